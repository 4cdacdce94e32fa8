# AdLake on AWS, as one module the environments call with their own sizes (envs/dev,
# envs/prod): the key and secrets, the lake, Delta's log store, the Spark application, the
# roles that tie them together, Dagster on ECS, the marts' ClickHouse, the real-time
# path's MSK and Redis, and the collector, prediction API and streaming job on ECS
# (docs/deploy.md).

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
  kafka_cluster_arn   = module.streaming.kafka_cluster_arn
  tags                = var.tags
}

module "dagster" {
  source              = "../dagster"
  name_prefix         = var.name_prefix
  vpc_id              = var.vpc_id
  private_subnet_ids  = var.private_subnet_ids
  public_subnet_ids   = var.public_subnet_ids
  allowed_cidr_blocks = var.allowed_cidr_blocks
  certificate_arn     = var.certificate_arn
  image               = var.image
  ecr_repository_arn  = var.ecr_repository_arn
  task_role_arn       = module.iam.dagster_role_arn
  adlake_environment  = local.environment
  secret_environment = {
    ADLAKE_HMAC_KEY            = module.secrets.secret_arns["hmac-key"]
    ADLAKE_CLICKHOUSE_PASSWORD = module.secrets.secret_arns["clickhouse-dbt"]
    ADLAKE_REDIS_URL           = aws_secretsmanager_secret.redis_url.arn
  }
  kms_key_arn            = module.secrets.kms_key_arn
  db_password            = module.secrets.postgres_password
  db_password_secret_arn = module.secrets.secret_arns["postgres-password"]
  db_instance_class      = var.db_instance_class
  db_multi_az            = var.db_multi_az
  stream_state = {
    file_system_id  = module.services.stream_state.file_system_id
    access_point_id = module.services.stream_state.access_point_id
  }
  tags = var.tags
}

module "services" {
  source              = "../services"
  name_prefix         = var.name_prefix
  vpc_id              = var.vpc_id
  private_subnet_ids  = var.private_subnet_ids
  public_subnet_ids   = var.public_subnet_ids
  allowed_cidr_blocks = var.allowed_cidr_blocks
  certificate_arn     = var.certificate_arn
  image               = var.image
  ecr_repository_arn  = var.ecr_repository_arn
  collector_role_arn  = module.iam.collector_role_arn
  api_role_arn        = module.iam.api_role_arn
  stream_role_arn     = module.iam.stream_role_arn
  adlake_environment  = local.environment
  # Each service gets the secrets it reads, no other.
  secret_environment = {
    api = {
      ADLAKE_HMAC_KEY  = module.secrets.secret_arns["hmac-key"] # user features are looked up by pseudonym
      ADLAKE_REDIS_URL = aws_secretsmanager_secret.redis_url.arn
    }
    stream = {
      ADLAKE_REDIS_URL = aws_secretsmanager_secret.redis_url.arn
    }
  }
  state_client_security_group_ids = [module.dagster.tasks_security_group_id]
  state_client_role_arns          = [module.iam.dagster_role_arn]
  collector_desired_count         = var.collector_desired_count
  api_desired_count               = var.api_desired_count
  stream_job_desired_count        = var.stream_job_desired_count
  kms_key_arn                     = module.secrets.kms_key_arn
  tags                            = var.tags
}

module "clickhouse" {
  source                    = "../clickhouse"
  name_prefix               = var.name_prefix
  deployment                = var.clickhouse_deployment
  cloud_host                = var.clickhouse_cloud_host
  vpc_id                    = var.vpc_id
  subnet_id                 = var.private_subnet_ids[0]
  client_security_group_ids = [module.dagster.tasks_security_group_id]
  instance_type             = var.clickhouse_instance_type
  secret_arns               = module.secrets.secret_arns
  bucket_arn                = module.lake.bucket_arn
  kms_key_arn               = module.secrets.kms_key_arn
  tags                      = var.tags
}

module "streaming" {
  source             = "../streaming"
  name_prefix        = var.name_prefix
  vpc_id             = var.vpc_id
  private_subnet_ids = var.private_subnet_ids
  kafka_client_security_group_ids = [
    module.dagster.tasks_security_group_id,
    module.services.security_group_ids["collector"],
    module.services.security_group_ids["stream"],
  ]
  redis_client_security_group_ids = [
    module.dagster.tasks_security_group_id,
    module.services.security_group_ids["api"],
    module.services.security_group_ids["stream"],
  ]
  broker_instance_type = var.kafka_broker_instance_type
  redis_node_type      = var.redis_node_type
  redis_auth_token     = module.secrets.redis_auth_token
  kms_key_arn          = module.secrets.kms_key_arn
  tags                 = var.tags
}

# The Dagster tasks reach the servers of the other modules (rules of their own, so that no
# module needs another's security group before it exists).
locals {
  task_egress = merge(
    {
      kafka        = { port = 9098, to = module.streaming.kafka_security_group_id }
      redis        = { port = 6379, to = module.streaming.redis_security_group_id }
      stream-state = { port = 2049, to = module.services.stream_state.security_group_id }
    },
    var.clickhouse_deployment == "ec2" ? { clickhouse = { port = 8123, to = module.clickhouse.security_group_id } } : {},
  )
  # And each service the servers it uses: the collector Kafka, the API Redis, the stream job both.
  service_egress = {
    collector-kafka = { service = "collector", port = 9098, to = module.streaming.kafka_security_group_id }
    api-redis       = { service = "api", port = 6379, to = module.streaming.redis_security_group_id }
    stream-kafka    = { service = "stream", port = 9098, to = module.streaming.kafka_security_group_id }
    stream-redis    = { service = "stream", port = 6379, to = module.streaming.redis_security_group_id }
  }
}

resource "aws_security_group_rule" "services_to_servers" {
  for_each                 = local.service_egress
  description              = "The ${each.value.service} to ${split("-", each.key)[1]}"
  type                     = "egress"
  security_group_id        = module.services.security_group_ids[each.value.service]
  from_port                = each.value.port
  to_port                  = each.value.port
  protocol                 = "tcp"
  source_security_group_id = each.value.to
}

resource "aws_security_group_rule" "tasks_to_servers" {
  for_each                 = local.task_egress
  description              = "Dagster tasks to ${each.key}"
  type                     = "egress"
  security_group_id        = module.dagster.tasks_security_group_id
  from_port                = each.value.port
  to_port                  = each.value.port
  protocol                 = "tcp"
  source_security_group_id = each.value.to
}

resource "aws_security_group_rule" "tasks_to_clickhouse_cloud" {
  count             = var.clickhouse_deployment == "cloud" ? 1 : 0
  description       = "Dagster tasks to ClickHouse Cloud over HTTPS (8443)"
  type              = "egress"
  security_group_id = module.dagster.tasks_security_group_id
  from_port         = 8443
  to_port           = 8443
  protocol          = "tcp"
  cidr_blocks       = ["0.0.0.0/0"]
}

# ADLAKE_REDIS_URL holds the AUTH token: it is a secret of its own, injected like the others.
resource "aws_secretsmanager_secret" "redis_url" {
  name                    = "${var.name_prefix}/redis-url"
  kms_key_id              = module.secrets.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
  # checkov:skip=CKV2_AWS_57:Derived from the redis-auth-token secret and the cache's address; it changes when they do.
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id     = aws_secretsmanager_secret.redis_url.id
  secret_string = "rediss://:${module.secrets.redis_auth_token}@${trimprefix(module.streaming.redis_url_without_token, "rediss://")}"
}

data "aws_region" "current" {}

locals {
  # AdLake's settings on this deployment (ad_assets/settings.py), secrets excepted.
  environment = {
    ADLAKE_ENV               = "aws"
    ADLAKE_LAKE_ROOT         = module.lake.lake_root
    ADLAKE_S3_PATH_STYLE     = "false"
    AWS_REGION               = data.aws_region.current.region
    ADLAKE_RAW_SOURCE        = "landed"
    ADLAKE_CLICKHOUSE_TARGET = "server"
    ADLAKE_CLICKHOUSE_HOST   = module.clickhouse.host
    ADLAKE_CLICKHOUSE_PORT   = tostring(module.clickhouse.port)
    ADLAKE_CLICKHOUSE_SECURE = tostring(module.clickhouse.secure)
    ADLAKE_CLICKHOUSE_USER   = "adlake_dbt"
    ADLAKE_KAFKA_BOOTSTRAP   = module.streaming.kafka_bootstrap
    # MSK admits IAM-authenticated clients only (port 9098): every Kafka client signs with
    # its task role (spark_jobs/kafka_auth.py) for AWS_REGION.
    ADLAKE_KAFKA_AUTH = "aws_iam"
    # MSK keeps three copies of each topic `adlake stack init` creates.
    ADLAKE_KAFKA_REPLICATION_FACTOR = "3"
    # Delta's multi-writer log store (spark_jobs/session.py reads ADLAKE_SPARK_CONF).
    ADLAKE_SPARK_CONF = var.delta_multi_writer ? jsonencode({
      "spark.delta.logStore.s3a.impl"                           = "io.delta.storage.S3DynamoDBLogStore"
      "spark.io.delta.storage.S3DynamoDBLogStore.ddb.tableName" = module.delta_log_store.table_name
      "spark.io.delta.storage.S3DynamoDBLogStore.ddb.region"    = data.aws_region.current.region
    }) : "{}"
    # Bronze, silver and gold run on EMR Serverless through Dagster Pipes (docs/deploy.md,
    # ad_assets/resources/spark_steps.py); the silver job reads the HMAC key itself.
    ADLAKE_SPARK_RUNNER           = "emr_serverless"
    ADLAKE_EMR_APPLICATION_ID     = module.emr_serverless.application_id
    ADLAKE_EMR_EXECUTION_ROLE_ARN = module.iam.spark_role_arn
    ADLAKE_EMR_ARTIFACTS_URI      = "s3://${module.lake.bucket_name}/${module.iam.artifacts_prefix}"
    ADLAKE_EMR_LOG_GROUP          = module.emr_serverless.log_group_name
    ADLAKE_EMR_HMAC_KEY_SECRET    = module.secrets.secret_arns["hmac-key"]
  }
}
