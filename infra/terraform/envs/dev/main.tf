# The dev environment: small and cheap to leave running; raw logs are kept 90 days and a
# deleted secret goes at once. The lake, its log store, the database and the load balancer
# keep their deletion protection here too: removing them is a deliberate, manual step.

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
  db_instance_class           = "db.t4g.small"
  db_multi_az                 = false
  clickhouse_instance_type    = "r7g.large"
  kafka_broker_instance_type  = "kafka.t3.small"
  redis_node_type             = "cache.t4g.small"
  emr_release_label           = var.emr_release_label
  emr_image_uri               = var.emr_image_uri
  emr_max_vcpu                = "8 vCPU"
  emr_max_memory              = "32 GB"
  collector_desired_count     = 1
  api_desired_count           = 1
  stream_job_desired_count    = 1
  raw_retention_days          = 90
  secret_recovery_window_days = 0
}
