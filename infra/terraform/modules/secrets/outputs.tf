output "kms_key_arn" {
  description = "ARN of the stack's KMS key."
  value       = aws_kms_key.stack.arn
}

output "secret_arns" {
  description = "ARN of each secret by name (hmac-key, postgres-password, clickhouse-dbt, clickhouse-dashboard, redis-auth-token)."
  value       = { for name, secret in aws_secretsmanager_secret.value : name => secret.arn }
}

output "redis_auth_token" {
  description = "The Redis auth token, for the cache's configuration."
  value       = random_password.value["redis-auth-token"].result
  sensitive   = true
}

output "postgres_password" {
  description = "The Postgres password, for the database's configuration."
  value       = random_password.value["postgres-password"].result
  sensitive   = true
}
