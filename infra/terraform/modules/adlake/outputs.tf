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

output "collector_url" {
  description = "The collector (ad servers POST events to <url>/v1/events), open to allowed_cidr_blocks."
  value       = module.services.collector_url
}

output "prediction_api_url" {
  description = "The prediction API (POST <url>/v1/predict), open to allowed_cidr_blocks."
  value       = module.services.prediction_api_url
}

output "role_arns" {
  description = "The roles of the Spark jobs, Dagster, the API, the collector and the streaming job."
  value = {
    spark     = module.iam.spark_role_arn
    dagster   = module.iam.dagster_role_arn
    api       = module.iam.api_role_arn
    collector = module.iam.collector_role_arn
    stream    = module.iam.stream_role_arn
  }
}
