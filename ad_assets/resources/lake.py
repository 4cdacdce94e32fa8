from __future__ import annotations

from dagster import ConfigurableResource

from spark_jobs.lake import Lake, S3Options


class LakeResource(ConfigurableResource):
    """The lake root (local path or s3a://bucket/prefix) and its S3 connection."""

    root: str
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    s3_path_style: bool = True

    def lake(self) -> Lake:
        s3 = S3Options(
            endpoint=self.s3_endpoint,
            access_key=self.s3_access_key,
            secret_key=self.s3_secret_key,
            region=self.s3_region,
            path_style=self.s3_path_style,
        )
        return Lake(self.root, s3)
