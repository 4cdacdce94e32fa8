output "spark_role_arn" {
  description = "The EMR Serverless jobs' execution role (Dagster passes it with each job)."
  value       = aws_iam_role.spark.arn
}

output "artifacts_prefix" {
  description = "Key prefix of the Spark steps' code in the lake's bucket: Dagster writes it, the jobs read it."
  value       = var.artifacts_prefix
}

output "dagster_role_arn" {
  description = "Task role of the Dagster webserver, daemon and code location."
  value       = aws_iam_role.dagster.arn
}

output "api_role_arn" {
  description = "Task role of the prediction API."
  value       = aws_iam_role.api.arn
}

output "collector_role_arn" {
  description = "Task role of the collector."
  value       = aws_iam_role.collector.arn
}

output "stream_role_arn" {
  description = "Task role of the streaming counters job."
  value       = aws_iam_role.stream.arn
}
