output "adlake_environment" {
  description = "AdLake's settings for this deployment (ad_assets/settings.py), secrets excepted: ADLAKE_HMAC_KEY, ADLAKE_CLICKHOUSE_PASSWORD and ADLAKE_REDIS_URL come from Secrets Manager (secret_arns)."
  value       = local.environment
}

output "dagster_ui_url" {
  description = "The Dagster UI."
  value       = module.dagster.ui_url
}

output "secret_arns" {
  description = "ARN of each secret by name; the services' task definitions inject them."
  value       = merge(module.secrets.secret_arns, { "redis-url" = aws_secretsmanager_secret.redis_url.arn })
}

output "role_arns" {
  description = "The roles of the Spark jobs, Dagster and the API."
  value = {
    spark   = module.iam.spark_role_arn
    dagster = module.iam.dagster_role_arn
    api     = module.iam.api_role_arn
  }
}
