variable "table_name" {
  description = "Name of the DynamoDB table in which Delta's S3DynamoDBLogStore records each commit, so that writers on several machines never overwrite one another's log entries."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the table (modules/secrets creates one)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
