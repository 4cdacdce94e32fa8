variable "name_prefix" {
  description = "Prefix of the application's and the log group's names, e.g. adlake-prod."
  type        = string
}

variable "release_label" {
  description = "EMR release of the application, e.g. emr-7.12.0. AdLake's Spark steps need Spark 4.2 (Scala 2.13) with Delta 4.4: a release that ships them, or image_uri built from the release's base image with them. No default: a release that lacks them cannot run the steps."
  type        = string
}

variable "image_uri" {
  description = "Custom image (in ECR) built from the release's EMR Serverless base image with AdLake's jars (scripts/spark-jars.pom.xml) and spark_jobs/ added; null runs the release's own image."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Private subnets the Spark workers run in (they reach S3 and DynamoDB through the VPC's endpoints)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the Spark workers."
  type        = list(string)
}

variable "max_vcpu" {
  description = "Most vCPUs the application may hold at once, e.g. \"32 vCPU\"."
  type        = string
  default     = "32 vCPU"
}

variable "max_memory" {
  description = "Most memory the application may hold at once, e.g. \"128 GB\"."
  type        = string
  default     = "128 GB"
}

variable "idle_timeout_minutes" {
  description = "Minutes without a job after which the application stops (and stops costing)."
  type        = number
  default     = 15
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the job logs."
  type        = string
}

variable "log_retention_days" {
  description = "Days the Spark jobs' CloudWatch logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
