# The marts' ClickHouse on AWS (docs/deploy.md): a server on EC2 this module runs, or a
# ClickHouse Cloud service given by its host. The server is private (no public IP, reached
# from the clients' security groups), administered through SSM (no SSH key), encrypted with
# the stack's key, and reads gold in the lake with its instance role. Its users are the
# docker stack's (docker/clickhouse/users.xml): adlake_dbt builds, adlake_dashboard reads.

locals {
  ec2 = var.deployment == "ec2" ? 1 : 0
}

data "aws_ami" "ubuntu" {
  count       = local.ec2
  most_recent = true
  owners      = ["099720109477"] # Canonical
  filter {
    name   = "name"
    values = ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*"]
  }
}

resource "aws_security_group" "clickhouse" {
  count       = local.ec2
  name        = "${var.name_prefix}-clickhouse"
  description = "ClickHouse server: HTTP queries from the clients"
  vpc_id      = var.vpc_id
  tags        = var.tags

  ingress {
    description     = "ClickHouse HTTP interface"
    from_port       = 8123
    to_port         = 8123
    protocol        = "tcp"
    security_groups = var.client_security_group_ids
  }
  egress {
    description = "HTTPS to S3, Secrets Manager, SSM and the package repository"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    description = "HTTP to Ubuntu's apt mirrors (packages are signed)"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

data "aws_iam_policy_document" "ec2_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "clickhouse" {
  statement {
    sid       = "ListGold"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.lake_prefix}/gold/*", "${var.lake_prefix}/quality/*", "${var.lake_prefix}/evaluation/*"]
    }
  }
  statement {
    sid     = "ReadGold"
    actions = ["s3:GetObject"]
    resources = [
      "${var.bucket_arn}/${var.lake_prefix}/gold/*",
      "${var.bucket_arn}/${var.lake_prefix}/quality/*",
      "${var.bucket_arn}/${var.lake_prefix}/evaluation/*",
    ]
  }
  statement {
    sid       = "ReadTheUsersPasswords"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secret_arns["clickhouse-dbt"], var.secret_arns["clickhouse-dashboard"]]
  }
  statement {
    sid       = "Decrypt"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "clickhouse" {
  count              = local.ec2
  name               = "${var.name_prefix}-clickhouse"
  assume_role_policy = data.aws_iam_policy_document.ec2_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "clickhouse" {
  count  = local.ec2
  name   = "adlake-clickhouse"
  role   = aws_iam_role.clickhouse[0].id
  policy = data.aws_iam_policy_document.clickhouse.json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  count      = local.ec2
  role       = aws_iam_role.clickhouse[0].name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "clickhouse" {
  count = local.ec2
  name  = "${var.name_prefix}-clickhouse"
  role  = aws_iam_role.clickhouse[0].name
}

resource "aws_instance" "clickhouse" {
  count                  = local.ec2
  ami                    = data.aws_ami.ubuntu[0].id
  instance_type          = var.instance_type
  subnet_id              = var.subnet_id
  vpc_security_group_ids = [aws_security_group.clickhouse[0].id]
  iam_instance_profile   = aws_iam_instance_profile.clickhouse[0].name
  ebs_optimized          = true
  monitoring             = true
  tags                   = merge(var.tags, { Name = "${var.name_prefix}-clickhouse" })

  metadata_options {
    http_tokens   = "required"
    http_endpoint = "enabled"
  }

  root_block_device {
    encrypted   = true
    kms_key_id  = var.kms_key_arn
    volume_type = "gp3"
    volume_size = 30
  }

  ebs_block_device {
    device_name = "/dev/sdf"
    encrypted   = true
    kms_key_id  = var.kms_key_arn
    volume_type = "gp3"
    volume_size = var.data_volume_gb
  }

  user_data_replace_on_change = true
  user_data = templatefile("${path.module}/install_clickhouse.sh.tftpl", {
    clickhouse_version  = var.clickhouse_version
    dbt_password_secret = var.secret_arns["clickhouse-dbt"]
    dashboard_secret    = var.secret_arns["clickhouse-dashboard"]
    region              = data.aws_region.current.region
  })
}

data "aws_region" "current" {}
