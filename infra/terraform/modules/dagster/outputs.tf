output "ui_url" {
  description = "The Dagster UI."
  value       = "https://${aws_lb.ui.dns_name}"
}

output "database_address" {
  description = "Address of Dagster's Postgres database."
  value       = aws_db_instance.dagster.address
}

output "tasks_security_group_id" {
  description = "Security group of the Dagster tasks (servers they call admit it)."
  value       = aws_security_group.tasks.id
}
