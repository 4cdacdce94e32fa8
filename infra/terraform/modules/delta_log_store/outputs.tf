output "table_name" {
  description = "The log store's table: Spark's spark.io.delta.storage.S3DynamoDBLogStore.ddb.tableName."
  value       = aws_dynamodb_table.delta_log.name
}

output "table_arn" {
  description = "ARN of the log store's table (IAM policies scope to it)."
  value       = aws_dynamodb_table.delta_log.arn
}
