variable "region" {
  description = "AWS region of the deployment."
  type        = string
}

variable "environment" {
  description = "Name of the environment, used in every resource's name."
  type        = string
}

variable "bucket_name" {
  description = "Name of the lake's S3 bucket (globally unique)."
  type        = string
}

variable "vpc_id" {
  description = "VPC to deploy into."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of the VPC (two availability zones or more)."
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
  description = "ACM certificate of the HTTPS listeners (the Dagster UI, the collector and the API: a wildcard, or a name covering each)."
  type        = string
}

variable "image" {
  description = "AdLake's image (docker/Dockerfile) pushed to ECR, by tag or digest."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository that holds the image."
  type        = string
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

variable "emr_release_label" {
  description = "EMR release of the Spark application; it must run Spark 4.2 with Delta 4.4, or emr_image_uri must."
  type        = string
}

variable "emr_image_uri" {
  description = "Custom EMR Serverless image with AdLake's jars and spark_jobs/ (null: the release's image)."
  type        = string
  default     = null
}
