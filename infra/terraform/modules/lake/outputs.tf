output "bucket_name" {
  description = "The lake's bucket."
  value       = aws_s3_bucket.lake.bucket
}

output "bucket_arn" {
  description = "ARN of the lake's bucket (IAM policies scope to it)."
  value       = aws_s3_bucket.lake.arn
}

output "lake_root" {
  description = "ADLAKE_LAKE_ROOT for this lake."
  value       = "s3a://${aws_s3_bucket.lake.bucket}/lake"
}
