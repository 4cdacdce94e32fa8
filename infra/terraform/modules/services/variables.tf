variable "name_prefix" {
  description = "Prefix of every resource's name, e.g. adlake-prod."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the services, the load balancer and the stream's file system."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of the tasks and the file system's mount targets (two availability zones or more)."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Public subnets of the load balancer in front of the collector and the prediction API."
  type        = list(string)
}

variable "allowed_cidr_blocks" {
  description = "Networks that may reach the collector and the prediction API through the load balancer (the ad servers' and bidders' ranges, a VPN; never 0.0.0.0/0)."
  type        = list(string)
  validation {
    condition     = length(var.allowed_cidr_blocks) > 0 && !contains(var.allowed_cidr_blocks, "0.0.0.0/0")
    error_message = "allowed_cidr_blocks must name the networks allowed in, not the whole internet."
  }
}

variable "certificate_arn" {
  description = "ACM certificate of the load balancer's HTTPS listeners (the name the collector and the API are reached at)."
  type        = string
}

variable "image" {
  description = "AdLake's image (docker/Dockerfile) in ECR, by tag or digest: the Dagster code location's."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository that holds the image (the tasks may pull from it only)."
  type        = string
}

variable "collector_role_arn" {
  description = "Task role of the collector (modules/iam collector_role_arn): produce to the event topics."
  type        = string
}

variable "api_role_arn" {
  description = "Task role of the prediction API (modules/iam api_role_arn): read the models and features."
  type        = string
}

variable "stream_role_arn" {
  description = "Task role of the streaming counters job (modules/iam stream_role_arn): read the event topics, produce dead letters, mount its state."
  type        = string
}

variable "adlake_environment" {
  description = "AdLake's settings for this deployment (modules/adlake's adlake_environment), secrets excepted."
  type        = map(string)
}

variable "secret_environment" {
  description = "Per service (collector, api, stream), environment variables whose values its tasks get from Secrets Manager: name -> secret ARN."
  type        = map(map(string))
  validation {
    condition     = alltrue([for service in keys(var.secret_environment) : contains(["collector", "api", "stream"], service)])
    error_message = "secret_environment's keys are services: collector, api, stream."
  }
}

variable "state_client_security_group_ids" {
  description = "Security groups of other tasks that mount the stream's state (Dagster's code location)."
  type        = list(string)
  default     = []
}

variable "state_client_role_arns" {
  description = "Task roles of other tasks that mount the stream's state (Dagster's)."
  type        = list(string)
  default     = []
}

variable "collector_desired_count" {
  description = "Collector tasks to run (behind the load balancer)."
  type        = number
  default     = 2
}

variable "api_desired_count" {
  description = "Prediction API tasks to run (behind the load balancer)."
  type        = number
  default     = 2
}

variable "stream_job_desired_count" {
  description = "Streaming counters tasks to run: 1, or 0 to stop it (two drivers must never share its checkpoint)."
  type        = number
  default     = 1
  validation {
    condition     = contains([0, 1], var.stream_job_desired_count)
    error_message = "stream_job_desired_count is 0 or 1: one driver per checkpoint."
  }
}

variable "kms_key_arn" {
  description = "ARN of the stack's KMS key: the file system and the logs."
  type        = string
}

variable "log_retention_days" {
  description = "Days the services' CloudWatch logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
