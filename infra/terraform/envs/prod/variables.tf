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

variable "emr_image_uri" {
  description = "Custom EMR Serverless image with AdLake's jars and spark_jobs/ (null: the release's image)."
  type        = string
  default     = null
}
