"""Schema drift in the raw logs, reported rather than crashed on.

Bronze already routes each line by the contract: an unknown field is kept in
`extra_json`, a missing or uncastable required field quarantines the line. Drift is
when that stops being noise: a field that fails its type (or is absent) in a real share
of an event type's lines means the sender changed the field's type or dropped it; a new
field in a real share of lines means the sender added one."""

from __future__ import annotations

from collections import Counter

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.delta_io import read_window
from spark_jobs.lake import Lake
from spark_jobs.pipeline import QUARANTINE_TABLE, Window

# A field failing (or appearing) in at least 1% of an event type's lines is drift; the
# odd mangled line in transit stays far below (about 0.01% in the generator's logs).
DRIFT_SHARE = 0.01
_FIELD_REASONS = ("bad_type:", "missing:")


def quarantine_reasons(spark: SparkSession, lake: Lake, w: Window) -> Counter:
    """(event_type, reason) -> lines, one reason per field (a line can have several)."""
    q = read_window(spark, lake.table(*QUARANTINE_TABLE), "arrival_date", w.start, w.end)
    rows = (
        q.select("event_type", F.explode(F.split("reason", "; ")).alias("reason"))
        .groupBy("event_type", "reason")
        .count()
        .collect()
    )
    return Counter({(r["event_type"], r["reason"]): r["count"] for r in rows})


def unknown_fields(spark: SparkSession, lake: Lake, w: Window) -> Counter:
    """(event_type, field) -> lines that carried the unknown field, from bronze."""
    out: Counter = Counter()
    for event_type in EVENT_TYPES:
        df = read_window(spark, lake.table("bronze", TABLE_NAMES[event_type]), "arrival_date", w.start, w.end)
        keys = df.where("extra_json IS NOT NULL").select(
            F.explode(F.json_object_keys("extra_json")).alias("k")
        )
        out.update({(event_type, r["k"]): r["count"] for r in keys.groupBy("k").count().collect()})
    return out


def drift_report(reasons: Counter, unknown: Counter, lines: dict[str, int]) -> dict:
    """Fields whose failures or appearances reach DRIFT_SHARE of their event type's lines.
    `lines` is raw lines per event type. Pure: the check's verdict is tested on its own."""
    changed, added = [], []
    for (event_type, reason), n in sorted(reasons.items()):
        total = lines.get(event_type, 0)
        if reason.startswith(_FIELD_REASONS) and total and n / total >= DRIFT_SHARE:
            kind, field = reason.split(":", 1)
            changed.append(
                {
                    "event_type": event_type,
                    "field": field,
                    "problem": kind,
                    "lines": n,
                    "share": round(n / total, 4),
                }
            )
    for (event_type, field), n in sorted(unknown.items()):
        total = lines.get(event_type, 0)
        share = n / total if total else 0.0
        added.append({"event_type": event_type, "field": field, "lines": n, "share": round(share, 4)})
    return {
        "changed_fields": changed,
        "unknown_fields": added,
        "drift": bool(changed) or any(a["share"] >= DRIFT_SHARE for a in added),
    }
