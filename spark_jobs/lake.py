"""Where the lake lives: a local directory or an S3 prefix (AWS S3 or MinIO). One object
gives the same location to every engine: Spark (s3a://), delta-rs and pyarrow (s3://)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from urllib.parse import urlparse

import pyarrow.fs as pafs


@dataclass(frozen=True)
class S3Options:
    endpoint: str | None = None  # e.g. http://127.0.0.1:9000 for MinIO; None = AWS
    access_key: str | None = None
    secret_key: str | None = None
    region: str = "us-east-1"
    path_style: bool = True

    @property
    def insecure(self) -> bool:
        return bool(self.endpoint and self.endpoint.startswith("http://"))


@dataclass(frozen=True)
class Lake:
    """root: an absolute local path, file:///path, or s3a://bucket/prefix (s3:// accepted)."""

    root: str
    s3: S3Options | None = None

    @property
    def is_s3(self) -> bool:
        return urlparse(self.root).scheme in ("s3", "s3a")

    def _bucket_key(self) -> str:
        u = urlparse(self.root)
        return f"{u.netloc}{u.path}".rstrip("/")

    @property
    def local_root(self) -> str:
        u = urlparse(self.root)
        return u.path if u.scheme == "file" else self.root

    def spark_path(self, *parts: str) -> str:
        base = f"s3a://{self._bucket_key()}" if self.is_s3 else self.local_root.rstrip("/")
        return "/".join([base, *parts])

    def table(self, layer: str, name: str) -> str:
        """Spark path of a Delta table, e.g. table('silver', 'clicks')."""
        return self.spark_path(layer, name)

    def raw_dir(self, event_type: str) -> str:
        return self.spark_path("raw", event_type)

    # --- pyarrow filesystem (the generator, file listings) ---
    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        """(filesystem, base path inside it)."""
        if not self.is_s3:
            return pafs.LocalFileSystem(), self.local_root.rstrip("/")
        s3 = self.s3 or S3Options()
        endpoint = s3.endpoint
        kwargs: dict = {"region": s3.region}
        if endpoint:
            u = urlparse(endpoint)
            kwargs.update(endpoint_override=u.netloc, scheme=u.scheme or "https")
        if s3.access_key:
            kwargs.update(access_key=s3.access_key, secret_key=s3.secret_key)
        if s3.path_style:
            kwargs["force_virtual_addressing"] = False
        return pafs.S3FileSystem(**kwargs), self._bucket_key()

    # --- delta-rs ---
    def delta_rs_uri(self, layer: str, name: str) -> str:
        if self.is_s3:
            return f"s3://{self._bucket_key()}/{layer}/{name}"
        return os.path.join(self.local_root, layer, name)

    def delta_rs_storage_options(self) -> dict[str, str]:
        if not self.is_s3:
            return {}
        s3 = self.s3 or S3Options()
        opts = {"AWS_REGION": s3.region}
        if s3.endpoint:
            opts["AWS_ENDPOINT_URL"] = s3.endpoint
            opts["AWS_ALLOW_HTTP"] = "true" if s3.insecure else "false"
        if s3.access_key:
            opts["AWS_ACCESS_KEY_ID"] = s3.access_key
            opts["AWS_SECRET_ACCESS_KEY"] = s3.secret_key or ""
        if s3.path_style:
            opts["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "false"
        return opts

    # --- before writing ---
    def check_writable(self, layer: str, min_free_mb: int = 0) -> None:
        """Fail early, naming the directory or bucket, when a layer cannot take writes (no
        permission, read-only, missing bucket, or less than min_free_mb free on a local
        disk). Spark would fail later with the cause buried in a JVM stack trace, maybe
        after a partial file."""
        if self.is_s3:
            self._check_s3_writable(layer)
            return
        path = os.path.join(self.local_root, layer)
        probe = os.path.join(path, f".adlake-write-probe-{os.getpid()}")
        try:
            os.makedirs(path, exist_ok=True)
            with open(probe, "w") as f:
                f.write("ok")
            os.remove(probe)
        except OSError as ex:
            raise LakeNotWritable(f"cannot write to the lake directory {path}: {ex.strerror}") from ex
        free_mb = shutil.disk_usage(path).free // 2**20
        if free_mb < min_free_mb:
            raise LakeNotWritable(
                f"the lake directory {path} has {free_mb:,} MB free, below ADLAKE_MIN_FREE_MB={min_free_mb:,}"
            )

    @property
    def bucket(self) -> str:
        """The S3 lake's bucket."""
        return self._bucket_key().partition("/")[0]

    def s3_client(self):
        """A boto3 S3 client for the lake's store (S3 lakes only)."""
        import boto3  # only S3 lakes need it
        from botocore.config import Config

        s3 = self.s3 or S3Options()
        return boto3.client(
            "s3",
            endpoint_url=s3.endpoint,
            aws_access_key_id=s3.access_key,
            aws_secret_access_key=s3.secret_key,
            region_name=s3.region,
            config=Config(
                s3={"addressing_style": "path" if s3.path_style else "auto"},
                retries={"max_attempts": 2},
                connect_timeout=5,
            ),
        )

    def _check_s3_writable(self, layer: str) -> None:
        """Put and delete a probe object under the layer's prefix, with boto3: the AWS SDK's
        error codes tell a missing bucket and refused credentials apart, which Spark's S3A
        and pyarrow report only as generic I/O errors. An unreachable store is not judged
        here: the step meets it and retries (ad_assets/lib/outages.py)."""
        from botocore.exceptions import ClientError, EndpointConnectionError

        client = self.s3_client()
        bucket, _, prefix = self._bucket_key().partition("/")
        folder = f"{prefix}/{layer}" if prefix else layer
        key = f"{folder}/.adlake-write-probe-{os.getpid()}"
        try:
            client.put_object(Bucket=bucket, Key=key, Body=b"ok")
            client.delete_object(Bucket=bucket, Key=key)
        except EndpointConnectionError:
            return
        except ClientError as ex:
            code = ex.response.get("Error", {}).get("Code", "")
            where = f"s3://{bucket}/{folder}"
            if code == "NoSuchBucket":
                raise LakeNotWritable(
                    f"cannot write to the lake at {where}: bucket {bucket} does not exist"
                ) from ex
            raise LakeNotWritable(f"cannot write to the lake at {where}: {code or ex}") from ex


class LakeNotWritable(RuntimeError):
    """The lake cannot take the writes of a step (the message names the directory)."""
