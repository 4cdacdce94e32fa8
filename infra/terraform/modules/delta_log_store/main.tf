# Delta Lake's multi-writer log store on S3 (docs/deploy.md): S3 has no put-if-absent for
# Delta's commit files, so with more than one writing cluster each commit is first claimed
# in this table (io.delta.storage.S3DynamoDBLogStore). The key schema and the TTL attribute
# are the ones Delta's log store expects: tablePath (hash), fileName (range), expireTime.

resource "aws_dynamodb_table" "delta_log" {
  name         = var.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "tablePath"
  range_key    = "fileName"

  attribute {
    name = "tablePath"
    type = "S"
  }
  attribute {
    name = "fileName"
    type = "S"
  }

  # Entries are only needed until the commit file they guard is in S3 (a day by default).
  ttl {
    attribute_name = "expireTime"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  deletion_protection_enabled = true
  tags                        = var.tags
}
