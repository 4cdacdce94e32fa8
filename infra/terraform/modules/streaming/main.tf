# The real-time path on AWS (docs/streaming.md, docs/deploy.md): MSK for the event topics
# and ElastiCache Redis for the live counters and the online features. Both are private,
# encrypted at rest with the stack's key and in transit with TLS, and admit only the
# clients' security groups. Topic settings match the local broker's
# (spark_jobs/stream_layout.py): no topic created by a producer, 72 hours of retention.

resource "aws_security_group" "kafka" {
  name        = "${var.name_prefix}-kafka"
  description = "MSK brokers: TLS with IAM authentication from the clients"
  vpc_id      = var.vpc_id
  tags        = var.tags

  ingress {
    description     = "Kafka, TLS and IAM (9098)"
    from_port       = 9098
    to_port         = 9098
    protocol        = "tcp"
    security_groups = var.kafka_client_security_group_ids
  }
}

resource "aws_security_group" "redis" {
  name        = "${var.name_prefix}-redis"
  description = "ElastiCache Redis: TLS from the clients"
  vpc_id      = var.vpc_id
  tags        = var.tags

  ingress {
    description     = "Redis over TLS"
    from_port       = 6379
    to_port         = 6379
    protocol        = "tcp"
    security_groups = var.redis_client_security_group_ids
  }
}

resource "aws_cloudwatch_log_group" "streaming" {
  name              = "/adlake/${var.name_prefix}/streaming"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# ---------------------------------------------------------------- MSK

resource "aws_msk_configuration" "adlake" {
  name           = "${var.name_prefix}-kafka"
  kafka_versions = [var.kafka_version]
  server_properties = join("\n", [
    "auto.create.topics.enable=false",
    "log.retention.hours=72",
    "default.replication.factor=3",
    "min.insync.replicas=2",
    "unclean.leader.election.enable=false",
  ])
}

resource "aws_msk_cluster" "adlake" {
  cluster_name           = "${var.name_prefix}-kafka"
  kafka_version          = var.kafka_version
  number_of_broker_nodes = length(var.private_subnet_ids) == 2 ? 4 : 3
  enhanced_monitoring    = "PER_BROKER"
  tags                   = var.tags

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.private_subnet_ids
    security_groups = [aws_security_group.kafka.id]
    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_gb
      }
    }
    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.adlake.arn
    revision = aws_msk_configuration.adlake.latest_revision
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = var.kms_key_arn
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  client_authentication {
    unauthenticated = false
    sasl {
      iam = true
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.streaming.name
      }
    }
  }
}

# ---------------------------------------------------------------- ElastiCache Redis

resource "aws_elasticache_subnet_group" "redis" {
  name       = "${var.name_prefix}-redis"
  subnet_ids = var.private_subnet_ids
  tags       = var.tags
}

resource "aws_elasticache_replication_group" "redis" {
  replication_group_id       = "${var.name_prefix}-redis"
  description                = "AdLake's live counters and online features"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.redis_node_type
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  multi_az_enabled           = true
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.redis.name
  security_group_ids         = [aws_security_group.redis.id]
  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = var.redis_auth_token
  auto_minor_version_upgrade = true
  snapshot_retention_limit   = 3
  tags                       = var.tags

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.streaming.name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }
}
