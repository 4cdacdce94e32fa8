output "kafka_bootstrap" {
  description = "ADLAKE_KAFKA_BOOTSTRAP: the brokers' TLS and IAM endpoints (port 9098; ADLAKE_KAFKA_AUTH=aws_iam)."
  value       = aws_msk_cluster.adlake.bootstrap_brokers_sasl_iam
}

output "kafka_cluster_arn" {
  description = "ARN of the MSK cluster: IAM policies name it, its topics and its consumer groups."
  value       = aws_msk_cluster.adlake.arn
}

output "redis_url_without_token" {
  description = "ADLAKE_REDIS_URL without its token: rediss://:<redis-auth-token>@host:6379/0 (the token is the redis-auth-token secret)."
  value       = "rediss://${aws_elasticache_replication_group.redis.primary_endpoint_address}:6379/0"
}

output "kafka_security_group_id" {
  description = "Security group of the brokers: clients add egress to it."
  value       = aws_security_group.kafka.id
}

output "redis_security_group_id" {
  description = "Security group of the cache: clients add egress to it."
  value       = aws_security_group.redis.id
}
