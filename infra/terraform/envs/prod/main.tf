# The prod environment: sized for daily batches over a real week of traffic, raw logs kept
# for 400 days, deleted secrets recoverable for 30.

module "adlake" {
  source                      = "../../modules/adlake"
  name_prefix                 = "adlake-${var.environment}"
  bucket_name                 = var.bucket_name
  vpc_id                      = var.vpc_id
  private_subnet_ids          = var.private_subnet_ids
  emr_image_uri               = var.emr_image_uri
  emr_max_vcpu                = "64 vCPU"
  emr_max_memory              = "256 GB"
  raw_retention_days          = 400
  secret_recovery_window_days = 30
}
