"""How logs reach the lake: shipping delay (most within seconds, ~2% over an hour, up to
48 h), resends of already-shipped lines, and a few lines mangled on the way. Then
serialisation to JSON Lines and gzip files by arrival date and hour."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import polars as pl
from isal import igzip

from ad_assets.generator.catalog import USER_AGENTS as _USER_AGENTS
from ad_assets.generator.simulate import HOUR_US, US
from spark_jobs.contracts import MAX_LATENESS, RAW_FIELDS

MAX_LATENESS_US = int(MAX_LATENESS.total_seconds()) * US


@dataclass(frozen=True)
class DeliveryProfile:
    late_rate: float = 0.02  # share of events shipped more than an hour late
    very_late_share: float = 0.3  # of those, share 6-48 h late (the rest 1-6 h)
    resend_rate: float = 0.005  # lines shipped twice
    malformed_rate: float = 0.001  # lines truncated, mistyped or missing a required field


def arrival_times(rng: np.random.Generator, event_ts: np.ndarray, p: DeliveryProfile) -> np.ndarray:
    n = len(event_ts)
    delay = np.minimum(rng.lognormal(np.log(20e6), 1.0, n), HOUR_US - 1)
    late = rng.random(n) < p.late_rate
    very = rng.random(n) < p.very_late_share
    late_delay = np.where(
        very, rng.uniform(6 * HOUR_US, MAX_LATENESS_US, n), rng.uniform(HOUR_US, 6 * HOUR_US, n)
    )
    return event_ts + np.where(late, late_delay, delay).astype(np.int64)


def _to_frame(event_type: str, cols: dict[str, np.ndarray]) -> pl.DataFrame:
    """Columns -> the wire shape of the event type (OpenRTB nesting for bid requests)."""
    df = pl.DataFrame({k: v for k, v in cols.items()})
    ts = pl.from_epoch(pl.col("event_ts"), time_unit="us").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    head = [pl.col("event_id"), pl.lit(event_type).alias("event_type"), ts.alias("event_ts")]
    if event_type == "bid_request":
        publisher = pl.struct(pl.col("publisher_id").alias("id"))
        site = pl.struct(pl.col("publisher_domain").alias("domain"), publisher.alias("publisher"))
        app = pl.struct(pl.col("publisher_domain").alias("bundle"), publisher.alias("publisher"))
        return df.select(
            *head,
            "request_id",
            "imp_id",
            "bidfloor_cpm",
            "placement_id",
            "ad_format",
            "channel",
            pl.when(~pl.col("publisher_is_app")).then(site).alias("site"),
            pl.when(pl.col("publisher_is_app")).then(app).alias("app"),
            pl.struct(
                pl.col("device_type").alias("devicetype"),
                "os",
                pl.col("os").replace_strict(_USER_AGENTS, default="").alias("ua"),
                pl.struct("country").alias("geo"),
            ).alias("device"),
            pl.struct(pl.col("user_id").alias("id"), "consent").alias("user"),
            pl.struct("gdpr").alias("regs"),
            "is_test",
        )
    out = df.select(*head, *[c for c in cols if c not in ("event_id", "event_ts")])
    return out.with_columns(pl.col(pl.Float64).fill_nan(None))


def _mangle(rng: np.random.Generator, event_type: str, line: bytes) -> bytes:
    kind = rng.choice(["truncated", "bad_type", "missing"], p=[0.5, 0.25, 0.25])
    if kind == "truncated":
        return line[: int(rng.integers(5, max(len(line) - 5, 6)))]
    obj = json.loads(line)
    required = [f for f in RAW_FIELDS[event_type] if f.required and "." not in f.json_path]
    if kind == "missing":
        obj.pop(required[int(rng.integers(0, len(required)))].name, None)
    else:
        typed = [f for f in required if f.dtype != "string"]
        obj[typed[int(rng.integers(0, len(typed)))].name] = "n/a"
    return json.dumps(obj, separators=(",", ":")).encode()


def serialise(
    rng: np.random.Generator,
    event_type: str,
    cols: dict[str, np.ndarray],
    p: DeliveryProfile,
) -> tuple[list[bytes], np.ndarray]:
    """JSON lines and their arrival times (with resends appended, mangling applied)."""
    arrival = arrival_times(rng, cols["event_ts"], p)
    lines = _to_frame(event_type, cols).write_ndjson().encode().splitlines()
    resend = np.flatnonzero(rng.random(len(lines)) < p.resend_rate)
    if len(resend):
        again = arrival[resend] + rng.integers(60 * US, 6 * HOUR_US, len(resend))
        again = np.minimum(again, cols["event_ts"][resend] + MAX_LATENESS_US)
        lines += [lines[i] for i in resend]
        arrival = np.concatenate([arrival, again])
    for i in np.flatnonzero(rng.random(len(lines)) < p.malformed_rate):
        lines[i] = _mangle(rng, event_type, lines[i])
    return lines, arrival


def group_by_arrival_hour(lines: list[bytes], arrival: np.ndarray) -> dict[tuple[date, int], list[bytes]]:
    order = np.argsort(arrival, kind="stable")
    hours = arrival[order] // HOUR_US
    out: dict[tuple[date, int], list[bytes]] = {}
    bounds = np.flatnonzero(np.diff(hours)) + 1
    for chunk in np.split(np.arange(len(order)), bounds):
        if len(chunk) == 0:
            continue
        h = int(hours[chunk[0]])
        dt = datetime.fromtimestamp(h * 3600, tz=UTC)
        out[(dt.date(), dt.hour)] = [lines[i] for i in order[chunk]]
    return out


def gzip_lines(lines: list[bytes]) -> bytes:
    # ISA-L level 1: several times faster than zlib 6 at a slightly larger file.
    return igzip.compress(b"\n".join(lines) + b"\n", compresslevel=1)
