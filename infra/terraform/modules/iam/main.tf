# Least-privilege roles (docs/deploy.md): each process gets the lake prefixes, the table,
# the key and the secrets it uses, and nothing else.
#
# - spark:  the EMR Serverless jobs (bronze -> gold, features): read and write the lake,
#           claim Delta commits in the log store, read the HMAC key (silver pseudonymises).
# - dagster: the webserver, daemon and code location (ECS): the same lake access (some
#           steps write with delta-rs and pyarrow), submit and watch the Spark jobs and
#           hand them the spark role, read every secret.
# - api:    the prediction API: read the models and features, read the HMAC key.
# - collector: the HTTP collector: produce to the event topics.
# - stream: the counters query (Spark Structured Streaming on ECS): read the event topics,
#           produce dead letters. Its checkpoint is on EFS (modules/services), its counters
#           in Redis (an AUTH token, not IAM): no lake access.
#
# MSK authorizes every Kafka request against IAM (modules/streaming: IAM authentication
# only): a client connects to the cluster, then reads, writes or creates the topics and
# uses the consumer groups its role names.

locals {
  objects = "${var.bucket_arn}/${var.lake_prefix}/*"
  kms_use = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
  # The Spark steps' code (ad_assets/lib/spark_artifact.py), keyed by its content hash.
  artifacts = "${var.bucket_arn}/${var.artifacts_prefix}/*"
  # arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid> -> the topic and group ARNs of
  # that cluster: arn:aws:kafka:<region>:<account>:topic/<name>/<uuid>/<topic>.
  topics        = replace(var.kafka_cluster_arn, ":cluster/", ":topic/")
  groups        = replace(var.kafka_cluster_arn, ":cluster/", ":group/")
  event_topics  = "${local.topics}/adlake.events.*"      # spark_jobs/stream_layout.py TOPIC_PREFIX
  dead_letter   = "${local.topics}/adlake.dead_letter"   # DEAD_LETTER_TOPIC
  spark_groups  = "${local.groups}/spark-kafka-source-*" # Spark's Kafka source names its own
  kafka_connect = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
}

# ---------------------------------------------------------------- trust

data "aws_iam_policy_document" "emr_serverless_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["emr-serverless.amazonaws.com"]
    }
  }
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

# ---------------------------------------------------------------- shared statements

data "aws_iam_policy_document" "lake_read_write" {
  statement {
    sid       = "ListTheLake"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.lake_prefix}/*", var.lake_prefix]
    }
  }
  statement {
    sid       = "ReadAndWriteTheLake"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [local.objects]
  }
  statement {
    sid       = "UseTheKey"
    actions   = local.kms_use
    resources = [var.kms_key_arn]
  }
  statement {
    sid = "ClaimDeltaCommits"
    actions = [
      "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:DescribeTable",
    ]
    resources = [var.delta_log_table_arn]
  }
}

# ---------------------------------------------------------------- spark

data "aws_iam_policy_document" "spark" {
  source_policy_documents = [data.aws_iam_policy_document.lake_read_write.json]
  statement {
    sid       = "ReadTheHmacKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secret_arns["hmac-key"]]
  }
  statement {
    sid       = "ReadTheStepsCode"
    actions   = ["s3:GetObject"]
    resources = [local.artifacts]
  }
  statement {
    sid       = "WriteJobLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [var.spark_log_group_arn, "${var.spark_log_group_arn}:*"]
  }
}

resource "aws_iam_role" "spark" {
  name               = "${var.name_prefix}-spark"
  assume_role_policy = data.aws_iam_policy_document.emr_serverless_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "spark" {
  name   = "adlake-spark"
  role   = aws_iam_role.spark.id
  policy = data.aws_iam_policy_document.spark.json
}

# ---------------------------------------------------------------- dagster

data "aws_iam_policy_document" "dagster" {
  source_policy_documents = [data.aws_iam_policy_document.lake_read_write.json]
  statement {
    sid       = "ReadTheSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = values(var.secret_arns)
  }
  statement {
    sid = "RunSparkJobs"
    actions = [
      "emr-serverless:StartJobRun", "emr-serverless:GetJobRun", "emr-serverless:CancelJobRun",
      "emr-serverless:GetDashboardForJobRun", "emr-serverless:GetApplication",
    ]
    resources = [var.emr_application_arn, "${var.emr_application_arn}/jobruns/*"]
  }
  statement {
    sid       = "HandTheJobsTheirRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.spark.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["emr-serverless.amazonaws.com"]
    }
  }
  # The steps' code, uploaded once per content hash; listing lets a missing key answer 404.
  statement {
    sid       = "UploadTheStepsCode"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.artifacts]
  }
  statement {
    sid       = "FindTheStepsCode"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.artifacts_prefix}/*"]
    }
  }
  statement {
    sid       = "ReadJobLogs"
    actions   = ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams"]
    resources = [var.spark_log_group_arn, "${var.spark_log_group_arn}:*"]
  }
  statement {
    sid       = "ConnectToKafka"
    actions   = local.kafka_connect
    resources = [var.kafka_cluster_arn]
  }
  # `adlake stack init` creates the topics; the landing reads every one, the lag probe
  # reads the event topics' offsets.
  statement {
    sid       = "CreateAndReadTheTopics"
    actions   = ["kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
    resources = [local.event_topics, local.dead_letter]
  }
  statement {
    sid       = "UseTheLandingAndLagProbeGroups"
    actions   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
    resources = [local.spark_groups, "${local.groups}/adlake-lag-probe"] # ad_assets/realtime/status.py
  }
}

resource "aws_iam_role" "dagster" {
  name               = "${var.name_prefix}-dagster"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "dagster" {
  name   = "adlake-dagster"
  role   = aws_iam_role.dagster.id
  policy = data.aws_iam_policy_document.dagster.json
}

# ---------------------------------------------------------------- collector

data "aws_iam_policy_document" "collector" {
  # An idempotent producer (acks=all, enable.idempotence: serving/collector.py) needs
  # WriteDataIdempotently on the cluster besides WriteData on its topics.
  statement {
    sid       = "ConnectToKafka"
    actions   = concat(local.kafka_connect, ["kafka-cluster:WriteDataIdempotently"])
    resources = [var.kafka_cluster_arn]
  }
  statement {
    sid       = "ProduceEvents"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    resources = [local.event_topics]
  }
}

resource "aws_iam_role" "collector" {
  name               = "${var.name_prefix}-collector"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "collector" {
  name   = "adlake-collector"
  role   = aws_iam_role.collector.id
  policy = data.aws_iam_policy_document.collector.json
}

# ---------------------------------------------------------------- stream

data "aws_iam_policy_document" "stream" {
  # The dead-letter producer is idempotent too (spark_jobs/stream_sink.py).
  statement {
    sid       = "ConnectToKafka"
    actions   = concat(local.kafka_connect, ["kafka-cluster:WriteDataIdempotently"])
    resources = [var.kafka_cluster_arn]
  }
  statement {
    sid       = "ReadEvents"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
    resources = [local.event_topics]
  }
  statement {
    sid       = "ProduceDeadLetters"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    resources = [local.dead_letter]
  }
  statement {
    sid       = "UseSparksGroups"
    actions   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
    resources = [local.spark_groups]
  }
}

resource "aws_iam_role" "stream" {
  name               = "${var.name_prefix}-stream"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "stream" {
  name   = "adlake-stream"
  role   = aws_iam_role.stream.id
  policy = data.aws_iam_policy_document.stream.json
}

# ---------------------------------------------------------------- api

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "ListModelsAndFeatures"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.lake_prefix}/models/*", "${var.lake_prefix}/features/*"]
    }
  }
  statement {
    sid     = "ReadModelsAndFeatures"
    actions = ["s3:GetObject"]
    resources = [
      "${var.bucket_arn}/${var.lake_prefix}/models/*",
      "${var.bucket_arn}/${var.lake_prefix}/features/*",
    ]
  }
  statement {
    sid       = "DecryptThem"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "ReadTheHmacKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secret_arns["hmac-key"]]
  }
}

resource "aws_iam_role" "api" {
  name               = "${var.name_prefix}-api"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "api" {
  name   = "adlake-api"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}
