variable "bucket_name" {
  description = "Name of the S3 bucket that holds the lake (raw, bronze, silver, gold, features, models, quality)."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts every object of the lake (modules/secrets creates one)."
  type        = string
}

variable "raw_ia_after_days" {
  description = "Days after which raw log files move to S3 Standard-IA (read again only by replays and reprocessing)."
  type        = number
  default     = 30
}

variable "raw_retention_days" {
  description = "Days after which raw log files are deleted; bronze keeps every line they held."
  type        = number
  default     = 400
  validation {
    condition     = var.raw_retention_days > var.raw_ia_after_days
    error_message = "raw_retention_days must be greater than raw_ia_after_days."
  }
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object version is kept (Delta's own history is governed by VACUUM; this bounds how long an erased user's bytes survive in old versions)."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
