output "host" {
  description = "ADLAKE_CLICKHOUSE_HOST: the server's private address, or the cloud service's host."
  value       = var.deployment == "ec2" ? aws_instance.clickhouse[0].private_ip : var.cloud_host
}

output "port" {
  description = "ADLAKE_CLICKHOUSE_PORT: 8123 on the private server, 8443 (HTTPS) on ClickHouse Cloud."
  value       = var.deployment == "ec2" ? 8123 : 8443
}

output "secure" {
  description = "ADLAKE_CLICKHOUSE_SECURE: TLS to ClickHouse Cloud; plain HTTP inside the VPC to the server."
  value       = var.deployment == "cloud"
}

output "security_group_id" {
  description = "Security group of the server (null for ClickHouse Cloud): clients add egress to it."
  value       = var.deployment == "ec2" ? aws_security_group.clickhouse[0].id : null
}
