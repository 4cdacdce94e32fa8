variable "name_prefix" {
  description = "Prefix of every resource's name, e.g. adlake-prod."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the broker and the cache."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one broker and one cache node per subnet (two or three)."
  type        = list(string)
}

variable "kafka_client_security_group_ids" {
  description = "Security groups of the brokers' clients: the collector, the streaming job, Dagster."
  type        = list(string)
}

variable "redis_client_security_group_ids" {
  description = "Security groups of the cache's clients: the streaming job, the prediction API, Dagster."
  type        = list(string)
}

variable "kafka_version" {
  description = "MSK's Kafka version (the tests run Kafka 4.4: scripts/kafka-broker.pom.xml)."
  type        = string
  default     = "4.0.x"
}

variable "broker_instance_type" {
  description = "Instance type of the MSK brokers."
  type        = string
  default     = "kafka.m7g.large"
}

variable "broker_volume_gb" {
  description = "EBS volume of each broker in GB: three days of events (the topics' retention) with room."
  type        = number
  default     = 500
}

variable "redis_node_type" {
  description = "Node type of the ElastiCache Redis replication group."
  type        = string
  default     = "cache.r7g.large"
}

variable "redis_auth_token" {
  description = "Redis AUTH token (modules/secrets redis_auth_token)."
  type        = string
  sensitive   = true
}

variable "kms_key_arn" {
  description = "ARN of the stack's KMS key: broker storage, the cache, the logs."
  type        = string
}

variable "log_retention_days" {
  description = "Days the broker and cache logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
