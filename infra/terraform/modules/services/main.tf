# AdLake's always-on services on ECS Fargate (docs/deploy.md, docs/streaming.md): the HTTP
# collector and the prediction API behind a load balancer open to `allowed_cidr_blocks`
# only, and the streaming counters job (Kafka -> Spark Structured Streaming -> Redis) with
# its checkpoint on EFS. The same image and commands as the docker stack (docker/compose.yaml);
# the same settings as the Dagster tasks (modules/dagster). Each service has its own task
# role (modules/iam) and security group; the adlake module opens their way to MSK, Redis
# and the stream state.

locals {
  home  = "/var/lib/adlake"
  state = "${local.home}/stream" # StreamResource's home: ADLAKE_HOME/stream
  # The counters query's checkpoint where Dagster's stream_counters asset reads it
  # (ad_assets/realtime/driver.py counters_checkpoint of ADLAKE_HOME/stream/driver).
  checkpoint = "${local.state}/driver/checkpoints/counters"
  # The driver announces its pid in Redis once its query runs (spark_jobs/stream_job.py);
  # healthy while that pid is a stream job in this container (a previous task's pid, in
  # another container, is not).
  stream_health = join("; ", [
    "import os, redis",
    "pid = redis.Redis.from_url(os.environ['ADLAKE_REDIS_URL']).hget('adlake:stream:driver', 'pid')",
    "assert pid and b'spark_jobs.stream_job' in open('/proc/%d/cmdline' % int(pid), 'rb').read()",
  ])
  services = {
    collector = {
      command       = ["python", "-m", "ad_assets.cli", "collector", "--host", "0.0.0.0", "--port", "8088"]
      port          = 8088
      listener_port = 443
      health        = ["CMD", "curl", "-fsS", "http://localhost:8088/health"]
      start_period  = 30
      cpu           = 1024
      memory        = 2048
      desired_count = var.collector_desired_count
      role          = var.collector_role_arn
    }
    api = {
      command       = ["python", "-m", "ad_assets.cli", "serve", "--host", "0.0.0.0", "--port", "8090", "--workers", "2"]
      port          = 8090
      listener_port = 8443
      health        = ["CMD", "curl", "-fsS", "http://localhost:8090/health"]
      start_period  = 60
      cpu           = 1024
      memory        = 4096
      desired_count = var.api_desired_count
      role          = var.api_role_arn
    }
    # Spark in local mode inside the task: one driver per checkpoint, never two.
    stream = {
      command       = ["python", "-m", "spark_jobs.stream_job", "--checkpoint", local.checkpoint, "--driver-memory", "4g"]
      port          = null
      listener_port = null
      health        = ["CMD-SHELL", "python -c \"${local.stream_health}\""]
      start_period  = 240 # a cold JVM with the Kafka connector
      cpu           = 2048
      memory        = 8192
      desired_count = var.stream_job_desired_count
      role          = var.stream_role_arn
    }
  }
  balanced = { for name, s in local.services : name => s if s.port != null }
  # The root filesystem is read-only; a process writes to /tmp and ADLAKE_HOME (task
  # storage; ECS gives each mount the image directory's owner, the image's user 10001),
  # the stream job to its state on EFS.
  scratch = {
    collector = { tmp = "/tmp", home = local.home }
    api       = { tmp = "/tmp", home = local.home }
    stream    = { tmp = "/tmp" }
  }
}

data "aws_region" "current" {}

# ---------------------------------------------------------------- network

resource "aws_security_group" "alb" {
  name        = "${var.name_prefix}-services-alb"
  description = "Collector and prediction API load balancer: HTTPS from the allowed networks"
  vpc_id      = var.vpc_id
  tags        = var.tags

  dynamic "ingress" {
    for_each = local.balanced
    content {
      description = "HTTPS to the ${ingress.key} from the allowed networks"
      from_port   = ingress.value.listener_port
      to_port     = ingress.value.listener_port
      protocol    = "tcp"
      cidr_blocks = var.allowed_cidr_blocks
    }
  }
}

resource "aws_security_group" "task" {
  for_each    = local.services
  name        = "${var.name_prefix}-${each.key}"
  description = each.value.port == null ? "AdLake ${each.key} tasks: nothing in" : "AdLake ${each.key} tasks: from the load balancer only"
  vpc_id      = var.vpc_id
  tags        = var.tags

  dynamic "ingress" {
    for_each = each.value.port == null ? [] : [each.value.port]
    content {
      description     = "The ${each.key}, from the load balancer"
      from_port       = ingress.value
      to_port         = ingress.value
      protocol        = "tcp"
      security_groups = [aws_security_group.alb.id]
    }
  }
  egress {
    description = "HTTPS to AWS APIs and ECR (through the VPC's endpoints or NAT)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group_rule" "alb_to_tasks" {
  for_each                 = local.balanced
  description              = "The load balancer forwards to the ${each.key}"
  type                     = "egress"
  security_group_id        = aws_security_group.alb.id
  from_port                = each.value.port
  to_port                  = each.value.port
  protocol                 = "tcp"
  source_security_group_id = aws_security_group.task[each.key].id
}

# ---------------------------------------------------------------- the stream's state (EFS)

# The counters query's checkpoint (offsets, RocksDB state, commits) outlives its task: a
# driver that starts without one rebuilds every counter from Kafka's 72 hours. Dagster's
# code location mounts the same state (the landing's checkpoint, and the counters' commits
# its lag check reads).
resource "aws_security_group" "state" {
  name        = "${var.name_prefix}-stream-state"
  description = "EFS of the stream's state: NFS from the stream job and Dagster's code location"
  vpc_id      = var.vpc_id
  tags        = var.tags

  ingress {
    description     = "NFS over TLS from the stream's clients"
    from_port       = 2049
    to_port         = 2049
    protocol        = "tcp"
    security_groups = concat([aws_security_group.task["stream"].id], var.state_client_security_group_ids)
  }
}

resource "aws_security_group_rule" "stream_to_state" {
  description              = "The stream job mounts its state"
  type                     = "egress"
  security_group_id        = aws_security_group.task["stream"].id
  from_port                = 2049
  to_port                  = 2049
  protocol                 = "tcp"
  source_security_group_id = aws_security_group.state.id
}

resource "aws_efs_file_system" "state" {
  creation_token   = "${var.name_prefix}-stream-state"
  encrypted        = true
  kms_key_id       = var.kms_key_arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"
  tags             = merge(var.tags, { Name = "${var.name_prefix}-stream-state" })
}

resource "aws_efs_backup_policy" "state" {
  file_system_id = aws_efs_file_system.state.id
  backup_policy {
    status = "ENABLED"
  }
}

resource "aws_efs_mount_target" "state" {
  count           = length(var.private_subnet_ids)
  file_system_id  = aws_efs_file_system.state.id
  subnet_id       = var.private_subnet_ids[count.index]
  security_groups = [aws_security_group.state.id]
}

# Every client enters as the image's user, under /stream.
resource "aws_efs_access_point" "state" {
  file_system_id = aws_efs_file_system.state.id
  tags           = var.tags
  posix_user {
    uid = 10001
    gid = 10001
  }
  root_directory {
    path = "/stream"
    creation_info {
      owner_uid   = 10001
      owner_gid   = 10001
      permissions = "0750"
    }
  }
}

# Only the stream job's and the state clients' roles mount it, through the access point,
# over TLS.
data "aws_iam_policy_document" "state" {
  statement {
    sid       = "MountThroughTheAccessPoint"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.state.arn]
    principals {
      type        = "AWS"
      identifiers = concat([var.stream_role_arn], var.state_client_role_arns)
    }
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.state.arn]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["true"]
    }
  }
}

resource "aws_efs_file_system_policy" "state" {
  file_system_id = aws_efs_file_system.state.id
  policy         = data.aws_iam_policy_document.state.json
}

# ---------------------------------------------------------------- ECS

resource "aws_ecs_cluster" "services" {
  name = "${var.name_prefix}-services"
  tags = var.tags
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "services" {
  name              = "/adlake/${var.name_prefix}/services"
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
    resources = ["${aws_cloudwatch_log_group.services.arn}:*"]
  }
  statement {
    sid       = "InjectSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = distinct(flatten([for env in values(var.secret_environment) : values(env)]))
  }
  statement {
    sid       = "DecryptThem"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name_prefix}-services-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "adlake-ecs-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_ecs_task_definition" "service" {
  for_each                 = local.services
  family                   = "${var.name_prefix}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = each.value.role
  tags                     = var.tags

  dynamic "volume" {
    for_each = local.scratch[each.key]
    content {
      name = volume.key
    }
  }
  dynamic "volume" {
    for_each = each.key == "stream" ? [1] : []
    content {
      name = "state"
      efs_volume_configuration {
        file_system_id     = aws_efs_file_system.state.id
        transit_encryption = "ENABLED"
        authorization_config {
          access_point_id = aws_efs_access_point.state.id
          iam             = "ENABLED"
        }
      }
    }
  }

  container_definitions = jsonencode([{
    name        = each.key
    image       = var.image
    command     = each.value.command
    essential   = true
    user        = "10001:10001"
    environment = [for k, v in var.adlake_environment : { name = k, value = v }]
    # From Secrets Manager at start, never in the task definition.
    secrets      = [for name, arn in try(var.secret_environment[each.key], {}) : { name = name, valueFrom = arn }]
    portMappings = each.value.port == null ? [] : [{ name = each.key, containerPort = each.value.port, protocol = "tcp" }]
    healthCheck = {
      command     = each.value.health
      interval    = 30
      timeout     = 10
      retries     = 3
      startPeriod = each.value.start_period
    }
    readonlyRootFilesystem = true
    mountPoints = concat(
      [for name, path in local.scratch[each.key] : { sourceVolume = name, containerPath = path, readOnly = false }],
      each.key == "stream" ? [{ sourceVolume = "state", containerPath = local.state, readOnly = false }] : [],
    )
    # uvicorn and Spark stop cleanly on SIGTERM within this (the stream's batch is replayed
    # and fenced if not).
    stopTimeout = 60
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.services.name
        awslogs-region        = data.aws_region.current.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

resource "aws_ecs_service" "service" {
  for_each        = local.services
  name            = "${var.name_prefix}-${each.key}"
  cluster         = aws_ecs_cluster.services.id
  task_definition = aws_ecs_task_definition.service[each.key].arn
  desired_count   = each.value.desired_count
  launch_type     = "FARGATE"
  propagate_tags  = "SERVICE"
  # The stream job runs once, never twice (two drivers on one checkpoint): stop, then
  # start. The others start a new task before they stop an old one.
  deployment_minimum_healthy_percent = each.key == "stream" ? 0 : 100
  deployment_maximum_percent         = each.key == "stream" ? 100 : 200
  health_check_grace_period_seconds  = each.value.port == null ? null : each.value.start_period
  tags                               = var.tags
  # A target group must be attached to the load balancer before a service can use it.
  depends_on = [aws_lb_listener.service, aws_efs_mount_target.state]

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task[each.key].id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = each.value.port == null ? [] : [each.value.port]
    content {
      target_group_arn = aws_lb_target_group.service[each.key].arn
      container_name   = each.key
      container_port   = load_balancer.value
    }
  }
}

# ---------------------------------------------------------------- the load balancer

resource "aws_lb" "services" {
  name                       = "${var.name_prefix}-services"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
  tags                       = var.tags
  # checkov:skip=CKV_AWS_91:Access logs need a bucket whose policy admits the region's load-balancer log delivery; add one per account where required.
  # checkov:skip=CKV2_AWS_28:Reachable only from allowed_cidr_blocks (the security group); attach a WAF web ACL where the services are exposed wider.
}

resource "aws_lb_target_group" "service" {
  for_each    = local.balanced
  name        = "${var.name_prefix}-${each.key}"
  port        = each.value.port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id
  tags        = var.tags
  # A collector finishes the requests it took (their Kafka acknowledgements) before it goes.
  deregistration_delay = 30
  health_check {
    path    = "/health"
    matcher = "200"
  }
}

# One listener per service on the one load balancer: the collector on 443, the API on 8443.
resource "aws_lb_listener" "service" {
  for_each          = local.balanced
  load_balancer_arn = aws_lb.services.arn
  port              = each.value.listener_port
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service[each.key].arn
  }
}
