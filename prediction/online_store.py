"""The online feature store in Redis (docs/prediction.md): the counts of every entity as of a
day, published whole by a Dagster asset (`ctr_online_features`) and read by the prediction API.

Layout (one snapshot per as-of day; a new one is written beside the old one, then the
pointer moves, so a reader never sees half a snapshot):

    adlake:features:current                          -> "2026-11-08" (the as-of day served)
    adlake:features:<as_of>:<entity>:<key>           hash: i (impressions), c (clicks),
                                                     l (days since the last click; users only)
    adlake:features:<as_of>:global                   hash: i, c (the prior's totals)
    adlake:features:<as_of>:meta                     hash: rows, published_at

Snapshot keys expire SNAPSHOT_TTL after publication: the current one is republished daily,
an old one stays long enough for readers that still hold its date.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import date

import redis

from prediction.features import (
    CLICKS,
    ENTITIES,
    GLOBAL,
    IMPRESSIONS,
    LAST_CLICK_DAYS,
    USER,
    count_column,
    entity_key,
)

PREFIX = "adlake:features"
CURRENT = f"{PREFIX}:current"
SNAPSHOT_TTL = 3 * 86_400
_FIELDS = {IMPRESSIONS: "i", CLICKS: "c", LAST_CLICK_DAYS: "l"}
BATCH = 5_000  # commands per pipeline round trip when publishing


def entry_key(as_of: str, entity: str, key: str) -> str:
    return f"{PREFIX}:{as_of}:{GLOBAL}" if entity == GLOBAL else f"{PREFIX}:{as_of}:{entity}:{key}"


def publish(client: redis.Redis, as_of: date, rows: Iterable[Mapping[str, object]]) -> int:
    """Write one snapshot (rows: entity, key, impressions, clicks, last_click_days) and make it
    current; returns how many entries it holds."""
    day = as_of.isoformat()
    n = 0
    pipe = client.pipeline(transaction=False)
    for r in rows:
        # Only a user's last click is a feature (prediction.features.NUMERIC).
        counts = (IMPRESSIONS, CLICKS, LAST_CLICK_DAYS) if r["entity"] == USER.name else (IMPRESSIONS, CLICKS)
        values = {_FIELDS[c]: r[c] for c in counts if r.get(c) is not None}
        k = entry_key(day, str(r["entity"]), str(r["key"]))
        pipe.hset(k, mapping=values)
        pipe.expire(k, SNAPSHOT_TTL)
        n += 1
        if n % BATCH == 0:
            pipe.execute()
    meta = f"{PREFIX}:{day}:meta"
    pipe.hset(meta, mapping={"rows": n, "published_at": time.time()})
    pipe.expire(meta, SNAPSHOT_TTL)
    pipe.execute()
    client.set(CURRENT, day)
    return n


def current_day(client: redis.Redis) -> str | None:
    v = client.get(CURRENT)
    return v.decode() if isinstance(v, bytes) else v


def snapshot_size(client: redis.Redis, as_of: str) -> int:
    rows = client.hget(f"{PREFIX}:{as_of}:meta", "rows")
    return int(rows) if rows else 0


def lookup_many(
    client: redis.Redis, as_of: str, impressions: list[Mapping[str, object]]
) -> list[dict[str, float]]:
    """The counts (prediction.features column names) for each impression (its context and
    `user_pid`, None when unknown or not consented), in one round trip. A missing entity
    leaves its counts out: numeric_features fills the documented defaults."""
    pipe = client.pipeline(transaction=False)
    plan: list[list[str]] = []
    pipe.hmget(entry_key(as_of, GLOBAL, ""), "i", "c")
    for imp in impressions:
        names = []
        for e in ENTITIES:
            key = entity_key(e, imp)
            if key is not None:
                pipe.hmget(entry_key(as_of, e.name, key), "i", "c", "l")
                names.append(e.name)
        plan.append(names)
    replies = iter(pipe.execute())
    gi, gc = next(replies)
    base = {}
    if gi is not None:
        base = {count_column(GLOBAL, IMPRESSIONS): float(gi), count_column(GLOBAL, CLICKS): float(gc or 0)}
    out = []
    for names in plan:
        counts = dict(base)
        for name in names:
            i, c, last = next(replies)
            if i is None:
                continue
            counts[count_column(name, IMPRESSIONS)] = float(i)
            counts[count_column(name, CLICKS)] = float(c or 0)
            if last is not None:
                counts[count_column(name, LAST_CLICK_DAYS)] = float(last)
        out.append(counts)
    return out
