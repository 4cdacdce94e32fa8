# Dagster on ECS Fargate (docs/deploy.md): the code location (gRPC; runs start in it and
# submit their Spark steps to EMR Serverless), the webserver behind a load balancer open to
# `allowed_cidr_blocks` only, and the daemon; Postgres on RDS for runs, events and
# schedules. The same image and dagster.yaml as the docker stack (docker/), with the code
# location reached at the same name through ECS Service Connect.

locals {
  db_name = "dagster"
  db_user = "dagster"
  environment = merge(var.adlake_environment, {
    DAGSTER_PG_HOST = aws_db_instance.dagster.address
    DAGSTER_PG_DB   = local.db_name
    DAGSTER_PG_USER = local.db_user
  })
  # Every task reads Dagster's storage; only the code location (where the assets and the
  # runs execute) gets AdLake's own secrets.
  storage_secret = [{ name = "DAGSTER_PG_PASSWORD", valueFrom = var.db_password_secret_arn }]
  secrets = {
    code      = concat([for name, arn in var.secret_environment : { name = name, valueFrom = arn }], local.storage_secret)
    webserver = local.storage_secret
    daemon    = local.storage_secret
  }
  services = {
    # The docker stack's health checks (docker/compose.yaml).
    code = {
      command = ["dagster", "code-server", "start", "--module-name", "ad_assets.definitions", "--host", "0.0.0.0", "--port", "4000"]
      port    = 4000
      health  = ["CMD", "dagster", "api", "grpc-health-check", "--port", "4000"]
      cpu     = 2048
      memory  = 8192
    }
    webserver = {
      command = ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "/opt/dagster/home/workspace.yaml"]
      port    = 3000
      health  = ["CMD", "curl", "-fsS", "http://localhost:3000/server_info"]
      cpu     = 512
      memory  = 1024
    }
    daemon = {
      command = ["dagster-daemon", "run", "-w", "/opt/dagster/home/workspace.yaml"]
      port    = null
      health  = ["CMD", "dagster-daemon", "liveness-check"]
      cpu     = 512
      memory  = 1024
    }
  }
}

data "aws_region" "current" {}

# ---------------------------------------------------------------- network

resource "aws_security_group" "alb" {
  name        = "${var.name_prefix}-dagster-alb"
  description = "Dagster UI load balancer: HTTPS from the allowed networks"
  vpc_id      = var.vpc_id
  tags        = var.tags

  ingress {
    description = "HTTPS from the allowed networks"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = var.allowed_cidr_blocks
  }
}

resource "aws_security_group" "tasks" {
  name        = "${var.name_prefix}-dagster-tasks"
  description = "Dagster tasks: the UI from the load balancer, gRPC among themselves"
  vpc_id      = var.vpc_id
  tags        = var.tags

  ingress {
    description     = "The UI, from the load balancer"
    from_port       = 3000
    to_port         = 3000
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }
  ingress {
    description = "The code location's gRPC, from the webserver and the daemon"
    from_port   = 4000
    to_port     = 4000
    protocol    = "tcp"
    self        = true
  }
  egress {
    description = "HTTPS to AWS APIs, ECR and the ClickHouse server"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    description = "gRPC to the code location"
    from_port   = 4000
    to_port     = 4000
    protocol    = "tcp"
    self        = true
  }
  egress {
    description     = "Postgres"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [aws_security_group.db.id]
  }
}

resource "aws_security_group_rule" "alb_to_tasks" {
  description              = "The load balancer forwards to the webserver"
  type                     = "egress"
  security_group_id        = aws_security_group.alb.id
  from_port                = 3000
  to_port                  = 3000
  protocol                 = "tcp"
  source_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "db" {
  name        = "${var.name_prefix}-dagster-db"
  description = "Dagster's Postgres: from the Dagster tasks only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_security_group_rule" "db_from_tasks" {
  description              = "Postgres from the Dagster tasks"
  type                     = "ingress"
  security_group_id        = aws_security_group.db.id
  from_port                = 5432
  to_port                  = 5432
  protocol                 = "tcp"
  source_security_group_id = aws_security_group.tasks.id
}

# ---------------------------------------------------------------- Postgres

resource "aws_db_subnet_group" "dagster" {
  name       = "${var.name_prefix}-dagster"
  subnet_ids = var.private_subnet_ids
  tags       = var.tags
}

resource "aws_db_parameter_group" "dagster" {
  name   = "${var.name_prefix}-dagster-pg17"
  family = "postgres17"
  tags   = var.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000" # statements slower than a second
  }
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
}

data "aws_iam_policy_document" "rds_monitoring_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${var.name_prefix}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "dagster" {
  identifier     = "${var.name_prefix}-dagster"
  engine         = "postgres"
  engine_version = "17"
  instance_class = var.db_instance_class
  db_name        = local.db_name
  username       = local.db_user
  # The stack's secret (modules/secrets); the tasks get it from Secrets Manager at start.
  password = var.db_password

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_allocated_storage_gb * 4
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.dagster.name
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.dagster.name
  publicly_accessible    = false
  multi_az               = var.db_multi_az

  backup_retention_period             = 7
  copy_tags_to_snapshot               = true
  deletion_protection                 = true
  final_snapshot_identifier           = "${var.name_prefix}-dagster-final"
  auto_minor_version_upgrade          = true
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = var.kms_key_arn
  monitoring_interval                 = 60
  monitoring_role_arn                 = aws_iam_role.rds_monitoring.arn
  tags                                = var.tags
}

# ---------------------------------------------------------------- ECS

resource "aws_ecs_cluster" "dagster" {
  name = "${var.name_prefix}-dagster"
  tags = var.tags
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_service_discovery_http_namespace" "dagster" {
  name        = "${var.name_prefix}-dagster"
  description = "Service Connect names of the Dagster services"
  tags        = var.tags
}

resource "aws_cloudwatch_log_group" "dagster" {
  name              = "/adlake/${var.name_prefix}/dagster"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# What ECS itself needs to start a task: pull the image, write its logs, inject its secrets.
data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullTheImage"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # ecr:GetAuthorizationToken takes no resource
  }
  statement {
    sid       = "PullTheLayers"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [var.ecr_repository_arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.dagster.arn}:*"]
  }
  statement {
    sid       = "InjectSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = concat(values(var.secret_environment), [var.db_password_secret_arn])
  }
  statement {
    sid       = "DecryptThem"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name_prefix}-dagster-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "adlake-ecs-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_ecs_task_definition" "dagster" {
  for_each                 = local.services
  family                   = "${var.name_prefix}-dagster-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = var.task_role_arn
  tags                     = var.tags

  # The stream's state (modules/services) at ADLAKE_HOME/stream of the code location, where
  # the runs execute: the landing's checkpoint survives the task, and the lag check reads
  # the counters query's commits.
  dynamic "volume" {
    for_each = each.key == "code" && var.stream_state != null ? [var.stream_state] : []
    content {
      name = "stream-state"
      efs_volume_configuration {
        file_system_id     = volume.value.file_system_id
        transit_encryption = "ENABLED"
        authorization_config {
          access_point_id = volume.value.access_point_id
          iam             = "ENABLED"
        }
      }
    }
  }

  container_definitions = jsonencode([{
    name         = each.key
    image        = var.image
    command      = each.value.command
    essential    = true
    user         = "10001:10001"
    environment  = [for k, v in local.environment : { name = k, value = v }]
    secrets      = local.secrets[each.key]
    portMappings = each.value.port == null ? [] : [{ name = each.key, containerPort = each.value.port, protocol = "tcp" }]
    healthCheck = {
      command     = each.value.health
      interval    = 30
      timeout     = 10
      retries     = 3
      startPeriod = 120 # the code location loads the definitions and the dbt manifest
    }
    # Dagster writes compute logs and scratch files under its home and /tmp.
    readonlyRootFilesystem = false
    mountPoints = each.key == "code" && var.stream_state != null ? [
      { sourceVolume = "stream-state", containerPath = "/var/lib/adlake/stream", readOnly = false }
    ] : []
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.dagster.name
        awslogs-region        = data.aws_region.current.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
  # checkov:skip=CKV_AWS_336:Dagster writes compute logs and run scratch files under its home and /tmp; the image runs as a non-root user.
}

resource "aws_ecs_service" "dagster" {
  for_each        = local.services
  name            = "${var.name_prefix}-dagster-${each.key}"
  cluster         = aws_ecs_cluster.dagster.id
  task_definition = aws_ecs_task_definition.dagster[each.key].arn
  desired_count   = 1
  launch_type     = "FARGATE"
  # The daemon must run once, never twice (schedules would fire twice): stop, then start.
  deployment_minimum_healthy_percent = each.key == "daemon" ? 0 : 100
  deployment_maximum_percent         = each.key == "daemon" ? 100 : 200
  tags                               = var.tags
  # The target group must be attached to the load balancer before a service can use it.
  depends_on = [aws_lb_listener.https]

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  # The code location answers at "dagster-code:4000", as in docker/workspace.yaml.
  service_connect_configuration {
    enabled   = true
    namespace = aws_service_discovery_http_namespace.dagster.arn
    dynamic "service" {
      for_each = each.key == "code" ? [1] : []
      content {
        port_name = "code"
        client_alias {
          dns_name = "dagster-code"
          port     = 4000
        }
      }
    }
  }

  dynamic "load_balancer" {
    for_each = each.key == "webserver" ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.webserver.arn
      container_name   = "webserver"
      container_port   = 3000
    }
  }
}

# ---------------------------------------------------------------- the UI's load balancer

resource "aws_lb" "ui" {
  name                       = "${var.name_prefix}-dagster"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
  tags                       = var.tags
  # checkov:skip=CKV_AWS_91:Access logs need a bucket whose policy admits the region's load-balancer log delivery; add one per account where required.
  # checkov:skip=CKV2_AWS_28:Reachable only from allowed_cidr_blocks (the security group); attach a WAF web ACL where the UI is exposed wider.
}

resource "aws_lb_target_group" "webserver" {
  name        = "${var.name_prefix}-dagster-ui"
  port        = 3000
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id
  tags        = var.tags
  health_check {
    path    = "/server_info"
    matcher = "200"
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.ui.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.webserver.arn
  }
}
