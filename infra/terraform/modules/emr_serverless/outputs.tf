output "application_id" {
  description = "The application's id: Dagster's EMR Serverless Pipes client submits to it."
  value       = aws_emrserverless_application.spark.id
}

output "application_arn" {
  description = "ARN of the application (IAM policies scope to it)."
  value       = aws_emrserverless_application.spark.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the Spark jobs."
  value       = aws_cloudwatch_log_group.spark.name
}

output "log_group_arn" {
  description = "ARN of the Spark jobs' log group."
  value       = aws_cloudwatch_log_group.spark.arn
}
