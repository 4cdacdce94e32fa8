variable "name_prefix" {
  description = "Prefix of every resource's name, e.g. adlake-prod."
  type        = string
}

variable "bucket_name" {
  description = "Name of the lake's S3 bucket (globally unique)."
  type        = string
}

variable "vpc_id" {
  description = "VPC the Spark workers run in."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of the VPC for the Spark workers."
  type        = list(string)
}

variable "emr_release_label" {
  description = "EMR release of the Spark application (see modules/emr_serverless)."
  type        = string
  default     = "emr-7.12.0"
}

variable "emr_image_uri" {
  description = "Custom EMR Serverless image with AdLake's jars and spark_jobs/ (null: the release's image)."
  type        = string
  default     = null
}

variable "emr_max_vcpu" {
  description = "Most vCPUs the Spark application may hold at once."
  type        = string
  default     = "32 vCPU"
}

variable "emr_max_memory" {
  description = "Most memory the Spark application may hold at once."
  type        = string
  default     = "128 GB"
}

variable "raw_retention_days" {
  description = "Days raw log files are kept in the lake."
  type        = number
  default     = 400
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can be restored (0: deleted at once)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
