"""The online feature store in Redis (docs/prediction.md): the counts of every entity as of a
day, published whole by a Dagster asset (`ctr_online_features`) and read by the prediction API.

Layout (one snapshot per publication; a new one is written beside the old one, then the
pointer moves, so a reader never sees half a snapshot):

    adlake:features:current                          -> "<as_of>.<n>": the snapshot served
    adlake:features:<snapshot>:<entity>:<key>        hash: i (impressions), c (clicks),
                                                     l (days since the last click; users only)
    adlake:features:<snapshot>:global                hash: i, c (the prior's totals)
    adlake:features:<snapshot>:meta                  hash: as_of, rows, published_at

A publication deletes every snapshot but itself and the one it replaces (which a request
in flight may still read); keys also expire SNAPSHOT_TTL after publication. So an entity
that left the lake (an erased user) is gone from Redis after two publications, at most.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import date

import redis

from prediction.features import (
    CLICKS,
    ENTITIES,
    FEATURES_LAYER,
    GLOBAL,
    IMPRESSIONS,
    LAST_CLICK_DAYS,
    STATS_TABLE,
    USER,
    count_column,
    entity_key,
)
from spark_jobs.lake import Lake
from spark_jobs.lake_read import open_table, partition_dates

PREFIX = "adlake:features"
CURRENT = f"{PREFIX}:current"
SNAPSHOT_TTL = 3 * 86_400
_FIELDS = {IMPRESSIONS: "i", CLICKS: "c", LAST_CLICK_DAYS: "l"}
BATCH = 5_000  # commands per pipeline round trip when publishing


def entry_key(snapshot: str, entity: str, key: str) -> str:
    return f"{PREFIX}:{snapshot}:{GLOBAL}" if entity == GLOBAL else f"{PREFIX}:{snapshot}:{entity}:{key}"


def publish(client: redis.Redis, as_of: date, rows: Iterable[Mapping[str, object]]) -> tuple[str, int]:
    """Write one snapshot (rows: entity, key, impressions, clicks, last_click_days), make it
    current and delete the older ones; returns its id and how many entries it holds."""
    day = f"{as_of.isoformat()}.{time.time_ns()}"
    previous = current_snapshot(client)
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
    pipe.hset(meta, mapping={"as_of": as_of.isoformat(), "rows": n, "published_at": time.time()})
    pipe.expire(meta, SNAPSHOT_TTL)
    pipe.execute()
    client.set(CURRENT, day)
    for old in snapshots(client) - {day, previous}:
        drop_snapshot(client, old)
    return day, n


def _text(v: object) -> str | None:
    return v.decode() if isinstance(v, bytes) else v  # type: ignore[return-value]


def current_snapshot(client: redis.Redis) -> str | None:
    return _text(client.get(CURRENT))


def snapshots(client: redis.Redis) -> set[str]:
    """Every snapshot with entries still in Redis (by its meta key)."""
    return {str(_text(k)).split(":")[-2] for k in client.scan_iter(match=f"{PREFIX}:*:meta", count=1000)}


def drop_snapshot(client: redis.Redis, snapshot: str) -> int:
    """Delete every key of a snapshot; returns how many there were."""
    n = 0
    batch: list = []
    for k in client.scan_iter(match=f"{PREFIX}:{snapshot}:*", count=5000):
        batch.append(k)
        if len(batch) == BATCH:
            n += client.unlink(*batch)
            batch.clear()
    if batch:
        n += client.unlink(*batch)
    return n


def snapshot_info(client: redis.Redis, snapshot: str) -> dict[str, str]:
    """as_of, rows and published_at of a snapshot ({} when it is gone)."""
    return {str(_text(k)): str(_text(v)) for k, v in client.hgetall(f"{PREFIX}:{snapshot}:meta").items()}


def stats_as_of(lake: Lake, as_of: date) -> list[dict[str, object]]:
    """The counts the Spark step wrote for one as-of day (features/entity_stats)."""
    return (
        open_table(lake, FEATURES_LAYER, STATS_TABLE)
        .to_pyarrow_table(
            filters=[("as_of_date", "=", as_of)],
            columns=["entity", "key", IMPRESSIONS, CLICKS, LAST_CLICK_DAYS],
        )
        .to_pylist()
    )


def latest_as_of(lake: Lake) -> date | None:
    """The newest as-of day with counts in the lake."""
    days = partition_dates(lake, FEATURES_LAYER, STATS_TABLE, "as_of_date")
    return days[-1] if days else None


def lookup_many(
    client: redis.Redis, snapshot: str, impressions: list[Mapping[str, object]]
) -> list[dict[str, float]]:
    """The counts (prediction.features column names) of each impression's entities (its
    context and `user_pid`, None when unknown or not consented) and the global ones, in one
    round trip. A missing entity leaves its counts out: numeric_features fills the
    documented defaults."""
    return LookupCache().lookup_many(client, snapshot, impressions)


class LookupCache:
    """One process's copy of the entries it has read from one snapshot. A published
    snapshot never changes (a new one is written beside it), so a cached entry is exactly
    what Redis holds: requests read Redis only for entities they are first to ask for. The
    cache empties when the snapshot moves, and when it holds `max_entries` (a day's users
    stay well below the default; docs/prediction.md "Speed")."""

    def __init__(self, max_entries: int = 1_000_000) -> None:
        # 0 keeps nothing: every lookup reads Redis (what the cache saves is measured so).
        self.max_entries = max_entries
        self.snapshot: str | None = None
        self.entries: dict[str, tuple] = {}
        self.hits = self.misses = 0

    def lookup_many(
        self, client: redis.Redis, snapshot: str, impressions: list[Mapping[str, object]]
    ) -> list[dict[str, float]]:
        """The module's lookup_many, reading only the entries not cached yet."""
        if snapshot != self.snapshot or len(self.entries) >= self.max_entries:
            self.snapshot, self.entries = snapshot, {}
        wanted = [entry_key(snapshot, GLOBAL, "")]
        plan: list[list[tuple[str, str]]] = []
        for imp in impressions:
            names = []
            for e in ENTITIES:
                key = entity_key(e, imp)
                if key is not None:
                    k = entry_key(snapshot, e.name, key)
                    wanted.append(k)
                    names.append((e.name, k))
            plan.append(names)
        missing = list(dict.fromkeys(k for k in wanted if k not in self.entries))
        self.misses += len(missing)
        self.hits += len(wanted) - len(missing)
        if missing:
            pipe = client.pipeline(transaction=False)
            for k in missing:
                pipe.hmget(k, "i", "c", "l")
            self.entries.update(zip(missing, (tuple(r) for r in pipe.execute()), strict=True))
        gi, gc, _ = self.entries[wanted[0]]
        base = {}
        if gi is not None:
            base = {
                count_column(GLOBAL, IMPRESSIONS): float(gi),
                count_column(GLOBAL, CLICKS): float(gc or 0),
            }
        out = []
        for names in plan:
            counts = dict(base)
            for name, k in names:
                i, c, last = self.entries[k]
                if i is None:
                    continue
                counts[count_column(name, IMPRESSIONS)] = float(i)
                counts[count_column(name, CLICKS)] = float(c or 0)
                if last is not None:
                    counts[count_column(name, LAST_CLICK_DAYS)] = float(last)
            out.append(counts)
        return out
