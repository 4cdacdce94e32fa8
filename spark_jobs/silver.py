"""Silver: one row per real event, keyed by event date. Pure DataFrame functions; the
MERGE that makes them idempotent across arrival dates lives in delta_io."""

from __future__ import annotations

import hashlib

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from spark_jobs.consent import with_measurement_consent
from spark_jobs.delta_io import ARRIVAL_ORDER

_BLOCK = 64  # SHA-256 block size in bytes


def first_rows(df: DataFrame, key: str, order: tuple[str, ...] = ARRIVAL_ORDER) -> DataFrame:
    """One row per key: the first in `order` (the first arrival by default)."""
    w = Window.partitionBy(key).orderBy(*order)
    return df.withColumn("_rn", F.row_number().over(w)).where("_rn = 1").drop("_rn")


def hmac_sha256_hex(value: Column, key: bytes) -> Column:
    """HMAC-SHA256(key, value) as lowercase hex, with Spark built-ins only (no Python UDF):
    H((K ^ opad) || H((K ^ ipad) || m)), the pads computed once on the driver (RFC 2104)."""
    k = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
    k = k.ljust(_BLOCK, b"\0")
    ipad = bytes(b ^ 0x36 for b in k)
    opad = bytes(b ^ 0x5C for b in k)
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), value.cast("binary")), 256))
    return F.sha2(F.concat(F.lit(opad), inner), 256)


def pseudonymise(df: DataFrame, key: bytes, key_version: str, column: str = "user_id") -> DataFrame:
    """Replace the raw user id by user_pid = HMAC-SHA256(key, user_id) and its key_version."""
    return (
        df.withColumn("user_pid", hmac_sha256_hex(F.col(column), key))
        .withColumn("key_version", F.when(F.col(column).isNotNull(), F.lit(key_version)))
        .drop(column)
    )


def with_event_time(df: DataFrame) -> DataFrame:
    return df.withColumn("event_date", F.to_date("event_ts")).withColumn("event_hour", F.hour("event_ts"))


def is_valid_traffic(ivt: Column, is_test: Column) -> Column:
    """Valid = human (ivt 'none') and not test traffic."""
    return (ivt == "none") & ~F.coalesce(is_test, F.lit(False))


def to_silver(bronze: DataFrame, key: bytes | None = None, key_version: str | None = None) -> DataFrame:
    """Dedup by event_id (first arrival), judge consent for measurement and pseudonymise
    user ids (tables with user ids), add event date and hour."""
    df = first_rows(bronze, "event_id").drop("_ingest_ts", "_batch_id")
    if "user_id" in df.columns:
        if key is None or key_version is None:
            raise ValueError("a pseudonymisation key is required for tables with user ids")
        df = pseudonymise(with_measurement_consent(df), key, key_version)
    return with_event_time(df)


def silver_impressions(bronze: DataFrame, key: bytes, key_version: str) -> DataFrame:
    df = to_silver(bronze, key, key_version)
    return df.withColumn("is_valid", is_valid_traffic(F.col("ivt"), F.col("is_test")))


def silver_conversions(bronze: DataFrame, key: bytes, key_version: str) -> DataFrame:
    df = to_silver(bronze, key, key_version)
    return df.withColumn("is_valid", ~F.coalesce(F.col("is_test"), F.lit(False)))


IMPRESSION_ATTRIBUTES: tuple[str, ...] = (
    "advertiser_id",
    "campaign_id",
    "publisher_id",
    "channel",
    "impression_event_date",
    "impression_is_valid",
    "impression_found",
    "is_valid",
)


def attach_impressions(clicks: DataFrame, impressions: DataFrame) -> DataFrame:
    """Clicks with the campaign of their impression. A click is valid when it is human, not
    test, and its impression exists and is valid; a click whose impression has not arrived
    yet is kept (impression_found = false) and attached when it does."""
    base = clicks.drop(*[c for c in IMPRESSION_ATTRIBUTES if c in clicks.columns])
    imp = impressions.select(
        "impression_id",
        "advertiser_id",
        "campaign_id",
        "publisher_id",
        "channel",
        F.col("event_date").alias("impression_event_date"),
        F.col("is_valid").alias("impression_is_valid"),
    )
    joined = base.join(imp, "impression_id", "left")
    found = F.col("campaign_id").isNotNull()
    return joined.withColumn("impression_found", found).withColumn(
        "is_valid",
        is_valid_traffic(F.col("ivt"), F.col("is_test"))
        & found
        & F.coalesce("impression_is_valid", F.lit(False)),
    )
