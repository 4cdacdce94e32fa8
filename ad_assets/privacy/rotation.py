"""Rotating the pseudonymisation key (docs/privacy.md, "Key rotation").

Embedded default (key file under ADLAKE_HOME): a new key is drawn and kept pending while
silver is re-pseudonymised from bronze and the audience tables are rebuilt; then it
replaces the old key, which is destroyed, so pseudonyms made with it can no longer be
linked to anyone. Interrupted, the next run resumes with the same pending key.

Key from the environment (ADLAKE_HMAC_KEY, ADLAKE_HMAC_KEY_VERSION): the operator puts the
new key and version there first; the rotation then moves the lake to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import SparkSession

from ad_assets.resources.pseudonym_key import PseudonymKeyResource
from spark_jobs.lake import Lake
from spark_jobs.rekey import rekey_lake


@dataclass(frozen=True)
class Rotation:
    old_version: str
    new_version: str
    silver_updated: dict[str, int]  # rows re-pseudonymised per silver table
    audience_rows: dict[str, int]  # rows of the rebuilt audience tables


def rotate_key(
    spark: SparkSession,
    lake: Lake,
    key: PseudonymKeyResource,
    version: str | None = None,
    log: Callable[[str], None] = print,
) -> Rotation:
    current = key.version()
    ring = key.keyring()
    if ring is None:
        if version and version != current:
            raise ValueError(
                f"the key comes from the environment at version {current!r}: set ADLAKE_HMAC_KEY and "
                "ADLAKE_HMAC_KEY_VERSION to the new key, then rotate without --version"
            )
        new_key, new_version = key.key_bytes(), current
        log(f"moving every pseudonym to the environment's key {new_version}")
    else:
        new_key, new_version = ring.begin_rotation(current, version)
        log(f"rotating the key {current} -> {new_version} (pending in {ring.pending_file})")
    stats = rekey_lake(spark, lake, new_key, new_version)
    if ring is not None:
        ring.finish_rotation()
        log(f"key {new_version} is current; the key of {current} is destroyed")
    return Rotation(current, new_version, stats.rows, stats.detail.get("audiences", {}))
