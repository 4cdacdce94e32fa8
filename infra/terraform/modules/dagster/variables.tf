variable "name_prefix" {
  description = "Prefix of every resource's name, e.g. adlake-prod."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the services and the database."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of the tasks and the database (two availability zones or more)."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Public subnets of the load balancer in front of the Dagster UI."
  type        = list(string)
}

variable "allowed_cidr_blocks" {
  description = "Networks that may reach the Dagster UI through the load balancer (an office or VPN range; never 0.0.0.0/0)."
  type        = list(string)
  validation {
    condition     = length(var.allowed_cidr_blocks) > 0 && !contains(var.allowed_cidr_blocks, "0.0.0.0/0")
    error_message = "allowed_cidr_blocks must name the networks allowed in, not the whole internet."
  }
}

variable "certificate_arn" {
  description = "ACM certificate of the UI's HTTPS listener."
  type        = string
}

variable "image" {
  description = "AdLake's image (docker/Dockerfile) in ECR, by tag or digest."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository that holds the image (the tasks may pull from it only)."
  type        = string
}

variable "task_role_arn" {
  description = "Role of the Dagster tasks (modules/iam dagster_role_arn)."
  type        = string
}

variable "secret_environment" {
  description = "Environment variables whose values the tasks get from Secrets Manager: name -> secret ARN (ADLAKE_HMAC_KEY, ADLAKE_CLICKHOUSE_PASSWORD, ADLAKE_REDIS_URL)."
  type        = map(string)
}

variable "adlake_environment" {
  description = "AdLake's settings for this deployment (modules/adlake's adlake_environment and the servers' addresses)."
  type        = map(string)
}

variable "db_password" {
  description = "Password of Dagster's Postgres user (modules/secrets postgres_password)."
  type        = string
  sensitive   = true
}

variable "db_password_secret_arn" {
  description = "ARN of the secret that holds it (injected into the tasks as DAGSTER_PG_PASSWORD)."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the stack's KMS key: the database and the logs."
  type        = string
}

variable "db_instance_class" {
  description = "Instance class of Dagster's Postgres database."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage_gb" {
  description = "Storage of the database in GB (it grows by itself up to four times this)."
  type        = number
  default     = 50
}

variable "db_multi_az" {
  description = "A standby database in a second availability zone."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days the services' CloudWatch logs are kept."
  type        = number
  default     = 365
}

variable "stream_state" {
  description = "The stream's state on EFS (modules/services stream_state), mounted at ADLAKE_HOME/stream in the code location; null: none."
  type = object({
    file_system_id  = string
    access_point_id = string
  })
  default = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
