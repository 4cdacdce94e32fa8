# The stack's key and secrets (docs/deploy.md). One customer-managed KMS key encrypts the
# lake, the log store, the secrets and the logs; it rotates yearly. The secrets hold what
# docker/.env holds in the compose stack: the HMAC key that pseudonymises user ids and the
# passwords of Postgres, ClickHouse and Redis. (An RDS-managed password would rotate every
# week, and ECS injects a secret only when a task starts: running tasks would lose the
# database.) Their values are drawn here and kept in the
# (encrypted) state; services read them from Secrets Manager at start, never from a file.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

data "aws_iam_policy_document" "key" {
  # The account administers the key; services are granted use through their IAM roles.
  # In a key policy "*" is the key itself, and the account root is the documented default
  # that lets IAM policies grant the key at all.
  # checkov:skip=CKV_AWS_111:A key policy's resource "*" is this key only.
  # checkov:skip=CKV_AWS_356:A key policy's resource "*" is this key only.
  # checkov:skip=CKV_AWS_109:The account root administering its own key is AWS's default key policy.
  statement {
    sid       = "AccountAdministers"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  # CloudWatch Logs encrypts the stack's log groups with the key (a service, not an IAM
  # principal: it must be named in the key policy), for this account's groups only.
  statement {
    sid       = "CloudWatchLogsEncrypt"
    effect    = "Allow"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "stack" {
  description             = "${var.name_prefix}: the lake, the Delta log store, secrets and logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "stack" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.stack.key_id
}

locals {
  # name -> length of the random value drawn for it
  secrets = {
    "hmac-key"             = 64
    "postgres-password"    = 40
    "clickhouse-dbt"       = 40
    "clickhouse-dashboard" = 40
    "redis-auth-token"     = 64
  }
}

resource "random_password" "value" {
  for_each = local.secrets
  length   = each.value
  # Redis auth tokens and connection URLs take these without escaping.
  special = false
}

resource "aws_secretsmanager_secret" "value" {
  for_each                = local.secrets
  name                    = "${var.name_prefix}/${each.key}"
  kms_key_id              = aws_kms_key.stack.arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
  # checkov:skip=CKV2_AWS_57:Rotation is an operation, not a schedule: the HMAC key is rotated with `adlake keys rotate` (it re-pseudonymises the lake), and a password change must reach its server and every client at once.
}

resource "aws_secretsmanager_secret_version" "value" {
  for_each      = local.secrets
  secret_id     = aws_secretsmanager_secret.value[each.key].id
  secret_string = random_password.value[each.key].result
}
