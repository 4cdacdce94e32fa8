# The Spark steps on AWS (docs/deploy.md): an EMR Serverless application that Dagster
# submits each step to through Dagster Pipes (the job's role is in modules/iam). It starts
# on the first job and stops when idle, so a day without runs costs nothing.

resource "aws_emrserverless_application" "spark" {
  name          = "${var.name_prefix}-spark"
  release_label = var.release_label
  type          = "spark"

  maximum_capacity {
    cpu    = var.max_vcpu
    memory = var.max_memory
  }

  auto_start_configuration {
    enabled = true
  }

  auto_stop_configuration {
    enabled              = true
    idle_timeout_minutes = var.idle_timeout_minutes
  }

  network_configuration {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  dynamic "image_configuration" {
    for_each = var.image_uri == null ? [] : [var.image_uri]
    content {
      image_uri = image_configuration.value
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "spark" {
  name              = "/adlake/${var.name_prefix}/spark"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}
