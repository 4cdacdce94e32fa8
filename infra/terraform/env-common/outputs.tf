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

output "collector_url" {
  description = "The collector: ad servers POST events to <url>/v1/events."
  value       = module.adlake.collector_url
}

output "prediction_api_url" {
  description = "The prediction API: POST <url>/v1/predict."
  value       = module.adlake.prediction_api_url
}

output "role_arns" {
  description = "The roles of the Spark jobs, Dagster, the API, the collector and the streaming job."
  value       = module.adlake.role_arns
}
