# The dev environment: small, cheap to leave running, and safe to tear down (secrets are
# deleted at once, raw logs kept for 90 days).

module "adlake" {
  source                      = "../../modules/adlake"
  name_prefix                 = "adlake-${var.environment}"
  bucket_name                 = var.bucket_name
  vpc_id                      = var.vpc_id
  private_subnet_ids          = var.private_subnet_ids
  emr_image_uri               = var.emr_image_uri
  emr_max_vcpu                = "8 vCPU"
  emr_max_memory              = "32 GB"
  raw_retention_days          = 90
  secret_recovery_window_days = 0
}
