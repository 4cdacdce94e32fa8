# The prod environment: sized for daily batches over a real week of traffic, raw logs kept
# for 400 days, deleted secrets recoverable for 30.

module "adlake" {
  source                      = "../../modules/adlake"
  name_prefix                 = "adlake-${var.environment}"
  bucket_name                 = var.bucket_name
  vpc_id                      = var.vpc_id
  private_subnet_ids          = var.private_subnet_ids
  public_subnet_ids           = var.public_subnet_ids
  allowed_cidr_blocks         = var.allowed_cidr_blocks
  certificate_arn             = var.certificate_arn
  image                       = var.image
  ecr_repository_arn          = var.ecr_repository_arn
  clickhouse_deployment       = var.clickhouse_deployment
  clickhouse_cloud_host       = var.clickhouse_cloud_host
  db_instance_class           = "db.r7g.large"
  db_multi_az                 = true
  clickhouse_instance_type    = "r7g.2xlarge"
  kafka_broker_instance_type  = "kafka.m7g.large"
  redis_node_type             = "cache.r7g.large"
  emr_release_label           = var.emr_release_label
  emr_image_uri               = var.emr_image_uri
  emr_max_vcpu                = "64 vCPU"
  emr_max_memory              = "256 GB"
  collector_desired_count     = 3
  api_desired_count           = 2
  stream_job_desired_count    = 1
  raw_retention_days          = 400
  secret_recovery_window_days = 30
}
