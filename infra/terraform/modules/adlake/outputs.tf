output "adlake_environment" {
  description = "AdLake's settings for this deployment (ad_assets/settings.py): the environment of every AdLake process. Secrets are not in it: processes read them from the ARNs in secret_arns."
  value = {
    ADLAKE_ENV           = "aws"
    ADLAKE_LAKE_ROOT     = module.lake.lake_root
    ADLAKE_S3_PATH_STYLE = "false"
    AWS_REGION           = data.aws_region.current.region
    # Delta's multi-writer log store (spark_jobs/session.py reads ADLAKE_SPARK_CONF).
    ADLAKE_SPARK_CONF = jsonencode({
      "spark.delta.logStore.s3a.impl"                           = "io.delta.storage.S3DynamoDBLogStore"
      "spark.io.delta.storage.S3DynamoDBLogStore.ddb.tableName" = module.delta_log_store.table_name
      "spark.io.delta.storage.S3DynamoDBLogStore.ddb.region"    = data.aws_region.current.region
    })
    # For the EMR Serverless step runner (Dagster Pipes; docs/deploy.md, not built yet).
    ADLAKE_EMR_APPLICATION_ID = module.emr_serverless.application_id
    ADLAKE_EMR_ROLE_ARN       = module.iam.spark_role_arn
  }
}

output "secret_arns" {
  description = "ARN of each secret by name; the services' task definitions inject them."
  value       = module.secrets.secret_arns
}

output "role_arns" {
  description = "The roles of the Spark jobs, Dagster and the API."
  value = {
    spark   = module.iam.spark_role_arn
    dagster = module.iam.dagster_role_arn
    api     = module.iam.api_role_arn
  }
}
