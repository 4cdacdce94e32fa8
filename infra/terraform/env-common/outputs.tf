output "adlake_environment" {
  description = "AdLake's settings for this deployment: export them in every AdLake process's environment."
  value       = module.adlake.adlake_environment
}

output "dagster_ui_url" {
  description = "The Dagster UI."
  value       = module.adlake.dagster_ui_url
}

output "secret_arns" {
  description = "ARN of each secret by name."
  value       = module.adlake.secret_arns
}

output "role_arns" {
  description = "The roles of the Spark jobs, Dagster and the API."
  value       = module.adlake.role_arns
}
