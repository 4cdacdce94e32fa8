from __future__ import annotations

from dagster import ConfigurableResource, Failure

from spark_jobs.lake import Lake, LakeNotWritable, S3Options


class LakeResource(ConfigurableResource):
    """The lake root (local path or s3a://bucket/prefix) and its S3 connection."""

    root: str
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    s3_path_style: bool = True
    min_free_mb: int = 512

    def lake(self) -> Lake:
        s3 = S3Options(
            endpoint=self.s3_endpoint,
            access_key=self.s3_access_key,
            secret_key=self.s3_secret_key,
            region=self.s3_region,
            path_style=self.s3_path_style,
        )
        return Lake(self.root, s3)

    def writable_lake(self, *layers: str) -> Lake:
        """The lake, after checking that the layers this step writes can take writes."""
        lake = self.lake()
        try:
            for layer in layers:
                lake.check_writable(layer, self.min_free_mb)
        except LakeNotWritable as ex:
            # Waiting does not fix permissions or a full disk: no retry.
            raise Failure(description=str(ex), allow_retries=False) from ex
        return lake
