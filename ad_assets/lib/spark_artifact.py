"""The Spark steps' artifact for spark-submit on EMR Serverless: the first-party packages a
step imports (spark_jobs/ and prediction/, whose feature definitions the pipeline reads),
zipped byte for byte the same from the same sources, and the entry point beside it. Both
go to S3 under the zip's content hash, so a rerun, or another step of the same code,
reuses the upload; a change of code gets a new key and never overwrites one a running job
reads. Third-party packages (pyspark's Delta bindings, Great Expectations, delta-rs,
dagster-pipes) come from the application's image (docs/deploy.md)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("spark_jobs", "prediction")  # tests/unit/test_spark_artifact.py: all a step imports
ENTRY_POINT = Path("spark_jobs", "submit.py")  # in the zip too: its imports are beside it
ZIP_NAME, ENTRY_NAME = "adlake-spark.zip", "submit.py"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's first representable time: the bytes depend on content only


@dataclass(frozen=True)
class Artifact:
    zip_bytes: bytes
    entry_point: bytes

    @property
    def digest(self) -> str:
        """Content hash of the code (the zip holds the entry point too)."""
        return hashlib.sha256(self.zip_bytes).hexdigest()[:20]


@dataclass(frozen=True)
class ArtifactLocation:
    zip_uri: str  # s3://bucket/prefix/<digest>/adlake-spark.zip, for --py-files
    entry_point_uri: str  # s3://bucket/prefix/<digest>/submit.py, the job's entryPoint


def _files(root: Path) -> list[Path]:
    return sorted(
        p
        for package in PACKAGES
        for p in (root / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def build_artifact(root: Path = ROOT) -> Artifact:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in _files(root):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, path.read_bytes())
    return Artifact(buffer.getvalue(), (root / ENTRY_POINT).read_bytes())


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"the artifacts' location must be s3://bucket/prefix, got {uri!r}")
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def upload_artifact(s3: Any, artifacts_uri: str, artifact: Artifact) -> ArtifactLocation:
    """Put the artifact under `artifacts_uri`/<digest>/ unless it is there already.
    `s3`: a boto3 S3 client."""
    bucket, prefix = _split(artifacts_uri)
    folder = "/".join(p for p in (prefix, artifact.digest) if p)
    for name, body in ((ENTRY_NAME, artifact.entry_point), (ZIP_NAME, artifact.zip_bytes)):
        key = f"{folder}/{name}"
        if not _exists(s3, bucket, key):
            s3.put_object(Bucket=bucket, Key=key, Body=body)
    return ArtifactLocation(f"s3://{bucket}/{folder}/{ZIP_NAME}", f"s3://{bucket}/{folder}/{ENTRY_NAME}")


def _exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as ex:
        if ex.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True
