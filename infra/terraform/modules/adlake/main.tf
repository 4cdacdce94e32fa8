# AdLake on AWS, as one module the environments call with their own sizes (envs/dev,
# envs/prod): the key and secrets, the lake, Delta's log store, the Spark application and
# the roles that tie them together (docs/deploy.md).

module "secrets" {
  source               = "../secrets"
  name_prefix          = var.name_prefix
  recovery_window_days = var.secret_recovery_window_days
  tags                 = var.tags
}

module "lake" {
  source             = "../lake"
  bucket_name        = var.bucket_name
  kms_key_arn        = module.secrets.kms_key_arn
  raw_retention_days = var.raw_retention_days
  tags               = var.tags
}

module "delta_log_store" {
  source      = "../delta_log_store"
  table_name  = "${var.name_prefix}-delta-log"
  kms_key_arn = module.secrets.kms_key_arn
  tags        = var.tags
}

# The Spark workers talk to S3, DynamoDB, Secrets Manager and CloudWatch over HTTPS only.
resource "aws_security_group" "spark" {
  name        = "${var.name_prefix}-spark"
  description = "EMR Serverless workers of ${var.name_prefix}: HTTPS out, nothing in"
  vpc_id      = var.vpc_id
  tags        = var.tags

  egress {
    description = "HTTPS to AWS APIs (through the VPC's endpoints or NAT)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  # checkov:skip=CKV2_AWS_5:Attached by the EMR Serverless application (network_configuration), which checkov does not follow.
}

module "emr_serverless" {
  source             = "../emr_serverless"
  name_prefix        = var.name_prefix
  release_label      = var.emr_release_label
  image_uri          = var.emr_image_uri
  subnet_ids         = var.private_subnet_ids
  security_group_ids = [aws_security_group.spark.id]
  max_vcpu           = var.emr_max_vcpu
  max_memory         = var.emr_max_memory
  kms_key_arn        = module.secrets.kms_key_arn
  tags               = var.tags
}

module "iam" {
  source              = "../iam"
  name_prefix         = var.name_prefix
  bucket_arn          = module.lake.bucket_arn
  kms_key_arn         = module.secrets.kms_key_arn
  delta_log_table_arn = module.delta_log_store.table_arn
  secret_arns         = module.secrets.secret_arns
  emr_application_arn = module.emr_serverless.application_arn
  spark_log_group_arn = module.emr_serverless.log_group_arn
  tags                = var.tags
}

data "aws_region" "current" {}
