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

variable "public_subnet_ids" {
  description = "Public subnets of the VPC for the load balancers (the Dagster UI, the collector and the API)."
  type        = list(string)
}

variable "allowed_cidr_blocks" {
  description = "Networks that may reach the Dagster UI, the collector and the prediction API (an office or VPN range, the ad servers')."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listeners: the Dagster UI's, the collector's and the API's (a name for each load balancer, or a wildcard)."
  type        = string
}

variable "image" {
  description = "AdLake's image (docker/Dockerfile) in ECR, by tag or digest."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository that holds the image."
  type        = string
}

variable "db_instance_class" {
  description = "Instance class of Dagster's Postgres database."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_multi_az" {
  description = "A standby for Dagster's database in a second availability zone."
  type        = bool
  default     = true
}

variable "clickhouse_deployment" {
  description = "\"ec2\" (a ClickHouse server run here) or \"cloud\" (ClickHouse Cloud, clickhouse_cloud_host)."
  type        = string
  default     = "ec2"
}

variable "clickhouse_cloud_host" {
  description = "Host of the ClickHouse Cloud service when clickhouse_deployment is \"cloud\"."
  type        = string
  default     = null
}

variable "clickhouse_instance_type" {
  description = "EC2 instance type of the ClickHouse server."
  type        = string
  default     = "r7g.xlarge"
}

variable "kafka_broker_instance_type" {
  description = "Instance type of the MSK brokers."
  type        = string
  default     = "kafka.m7g.large"
}

variable "redis_node_type" {
  description = "Node type of the ElastiCache Redis nodes."
  type        = string
  default     = "cache.r7g.large"
}

variable "emr_release_label" {
  description = "EMR release of the Spark application; it must run Spark 4.2 with Delta 4.4, or emr_image_uri must (see modules/emr_serverless)."
  type        = string
}

variable "delta_multi_writer" {
  description = "Point Spark's Delta log store at the DynamoDB table (several clusters writing one table). Needs io.delta:delta-storage-s3-dynamodb in the Spark image; off, one writer at a time (Dagster's pools) is the rule, as everywhere else."
  type        = bool
  default     = false
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

variable "collector_desired_count" {
  description = "Collector tasks to run behind the services' load balancer."
  type        = number
  default     = 2
}

variable "api_desired_count" {
  description = "Prediction API tasks to run behind the services' load balancer."
  type        = number
  default     = 2
}

variable "stream_job_desired_count" {
  description = "Streaming counters tasks: 1, or 0 to stop the counters (one driver per checkpoint)."
  type        = number
  default     = 1
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
