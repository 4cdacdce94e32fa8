variable "name_prefix" {
  description = "Prefix of every role's name, e.g. adlake-prod."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the lake's bucket (modules/lake)."
  type        = string
}

variable "lake_prefix" {
  description = "Key prefix of the lake inside its bucket (ADLAKE_LAKE_ROOT is s3a://<bucket>/<prefix>)."
  type        = string
  default     = "lake"
}

variable "artifacts_prefix" {
  description = "Key prefix, in the lake's bucket, of the Spark steps' code Dagster uploads for EMR Serverless (ADLAKE_EMR_ARTIFACTS_URI is s3://<bucket>/<prefix>)."
  type        = string
  default     = "emr-artifacts"
}

variable "kms_key_arn" {
  description = "ARN of the stack's KMS key (modules/secrets)."
  type        = string
}

variable "delta_log_table_arn" {
  description = "ARN of Delta's DynamoDB log store table (modules/delta_log_store)."
  type        = string
}

variable "secret_arns" {
  description = "ARN of each secret by name (modules/secrets)."
  type        = map(string)
}

variable "emr_application_arn" {
  description = "ARN of the EMR Serverless application (modules/emr_serverless)."
  type        = string
}

variable "spark_log_group_arn" {
  description = "ARN of the Spark jobs' CloudWatch log group (modules/emr_serverless)."
  type        = string
}

variable "kafka_cluster_arn" {
  description = "ARN of the MSK cluster (modules/streaming): the roles name it, its topics and groups."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
