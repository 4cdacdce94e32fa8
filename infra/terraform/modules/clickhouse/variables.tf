variable "name_prefix" {
  description = "Prefix of every resource's name, e.g. adlake-prod."
  type        = string
}

variable "deployment" {
  description = "Where the marts live: \"ec2\" (a ClickHouse server this module runs) or \"cloud\" (a ClickHouse Cloud service you run; give cloud_host)."
  type        = string
  default     = "ec2"
  validation {
    condition     = contains(["ec2", "cloud"], var.deployment)
    error_message = "deployment must be \"ec2\" or \"cloud\"."
  }
}

variable "cloud_host" {
  description = "Host of the ClickHouse Cloud service (deployment = \"cloud\"); AdLake connects over HTTPS (8443)."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "VPC of the server (deployment = \"ec2\")."
  type        = string
}

variable "subnet_id" {
  description = "Private subnet of the server (deployment = \"ec2\")."
  type        = string
}

variable "client_security_group_ids" {
  description = "Security groups that may query the server: Dagster (dbt), the dashboard."
  type        = list(string)
}

variable "instance_type" {
  description = "EC2 instance type of the server."
  type        = string
  default     = "r7g.xlarge"
}

variable "data_volume_gb" {
  description = "Size in GB of the server's data volume (the marts; gold stays in S3)."
  type        = number
  default     = 200
}

variable "clickhouse_version" {
  description = "ClickHouse release installed on the server: the one chDB embeds (chdb-core in requirements.lock) keeps the marts' SQL tested."
  type        = string
  default     = "26.9"
}

variable "secret_arns" {
  description = "ARN of each secret by name (modules/secrets): clickhouse-dbt and clickhouse-dashboard set the users' passwords."
  type        = map(string)
}

variable "bucket_arn" {
  description = "ARN of the lake's bucket: the server reads gold in place (DeltaLake tables)."
  type        = string
}

variable "lake_prefix" {
  description = "Key prefix of the lake inside its bucket."
  type        = string
  default     = "lake"
}

variable "kms_key_arn" {
  description = "ARN of the stack's KMS key: the volumes, the secrets, the lake."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
