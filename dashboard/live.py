"""The live panel's reads from Redis: the streaming job's 10-second windows
(spark_jobs/stream_layout.py holds the key layout). Each window's campaigns are the members
of its top-spend set, so one pipeline reads a window's counters without scanning keys."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from spark_jobs.metric_definitions import MICROS
from spark_jobs.stream_layout import (
    CAMPAIGN_FIELDS,
    INCOMPLETE_KEY,
    PROGRESS_KEY,
    WINDOW_SECONDS,
    top_key,
    window_key,
)


def client(redis_url: str) -> Any:
    import redis

    return redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=2)


def window_starts(now: float, minutes: int) -> list[int]:
    """The starts (epoch seconds) of the windows of the last `minutes`, oldest first; the
    current, still-filling window included."""
    last = int(now) // WINDOW_SECONDS * WINDOW_SECONDS
    n = minutes * 60 // WINDOW_SECONDS
    return [last - i * WINDOW_SECONDS for i in range(n - 1, -1, -1)]


def recent_windows(r: Any, minutes: int = 5, now: float | None = None) -> pd.DataFrame:
    """One row per (window, campaign) with the campaign counters of the last `minutes`."""
    starts = window_starts(time.time() if now is None else now, minutes)
    pipe = r.pipeline(transaction=False)
    for ws in starts:
        pipe.zrange(top_key(ws), 0, -1)
    members = pipe.execute()
    pairs = [(ws, c) for ws, campaigns in zip(starts, members, strict=True) for c in campaigns]
    for ws, c in pairs:
        pipe.hgetall(window_key(ws, "campaign", c))
    rows = []
    for (ws, c), h in zip(pairs, pipe.execute(), strict=True):
        rows.append({"window_start": ws, "campaign_id": c, **{f: int(h.get(f, 0)) for f in CAMPAIGN_FIELDS}})
    df = pd.DataFrame(rows, columns=["window_start", "campaign_id", *CAMPAIGN_FIELDS])
    df["window"] = pd.to_datetime(df["window_start"], unit="s", utc=True)
    df["spend"] = df["spend_micros"] / MICROS
    return df


def per_window(df: pd.DataFrame) -> pd.DataFrame:
    """Totals per window with CTR from the sums (windows without traffic stay out)."""
    totals = df.groupby("window", as_index=False)[["impressions", "clicks", "spend"]].sum()
    totals["ctr"] = totals["clicks"] / totals["impressions"].where(totals["impressions"] > 0)
    return totals


def per_minute_spend(df: pd.DataFrame) -> pd.DataFrame:
    out = df.assign(minute=df["window"].dt.floor("min")).groupby("minute", as_index=False)["spend"].sum()
    return out


def top_campaigns(df: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    top = df.groupby("campaign_id", as_index=False)[["impressions", "clicks", "spend"]].sum()
    return top.sort_values("spend", ascending=False).head(n).reset_index(drop=True)


def stream_health(r: Any) -> dict[str, Any]:
    """The streaming job's progress and whether the counters are known to miss data."""
    progress = r.hgetall(PROGRESS_KEY)
    at_ms = int(progress.get("at_ms", 0))
    return {
        "last_batch": progress.get("batch"),
        "seconds_since_batch": round(time.time() - at_ms / 1000, 1) if at_ms else None,
        "events": int(progress.get("events", 0)),
        "incomplete": r.hgetall(INCOMPLETE_KEY),
    }
