"""What Redis and Kafka say about the counters query: its last batch, what it counted,
whether the counters are complete, how far it is behind. Read by `adlake stream status`,
the Dagster health checks and the demo; imports neither Spark nor Dagster."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from spark_jobs.kafka_auth import KafkaAuth, client_config
from spark_jobs.stream_layout import (
    COUNTED_TOPICS,
    DRIVER_KEY,
    INCOMPLETE_KEY,
    PROGRESS_KEY,
    day_index_key,
    day_key,
    late_key,
)

# The lag probe's consumer group: it reads watermarks only and commits nothing, but MSK's
# IAM access control still names the group (infra/terraform/modules/iam grants it).
LAG_PROBE_GROUP = "adlake-lag-probe"


@dataclass(frozen=True)
class CountersStatus:
    last_batch: int | None
    last_batch_at: float | None  # epoch seconds
    events: int
    late: int
    dead_letter: int
    driver_pid: int | None
    incomplete: dict[str, str]

    @property
    def seconds_since_batch(self) -> float | None:
        return None if self.last_batch_at is None else time.time() - self.last_batch_at


def counters_status(redis_url: str) -> CountersStatus:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5, decode_responses=True)
    progress = client.hgetall(PROGRESS_KEY)
    driver = client.hgetall(DRIVER_KEY)
    return CountersStatus(
        last_batch=int(progress["batch"]) if "batch" in progress else None,
        last_batch_at=int(progress["at_ms"]) / 1000 if "at_ms" in progress else None,
        events=int(progress.get("events", 0)),
        late=int(progress.get("late", 0)),
        dead_letter=int(progress.get("dead_letter", 0)),
        driver_pid=int(driver["pid"]) if "pid" in driver else None,
        incomplete=client.hgetall(INCOMPLETE_KEY),
    )


def day_totals(redis_url: str, day: str, scope: str = "campaign") -> tuple[dict, dict]:
    """(live, late) totals of one event date per key of `scope`: key -> field -> value."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=10, decode_responses=True)
    keys = sorted(client.smembers(day_index_key(day)))
    pipe = client.pipeline(transaction=False)
    for k in keys:
        pipe.hgetall(k)
    live: dict[str, dict[str, int]] = {}
    late: dict[str, dict[str, int]] = {}
    for k, h in zip(keys, pipe.execute(), strict=True):
        prefix_live, prefix_late = day_key(day, scope, ""), late_key(day, scope, "")
        target, name = (
            (live, k[len(prefix_live) :]) if k.startswith(prefix_live) else (late, k[len(prefix_late) :])
        )
        if k.startswith((prefix_live, prefix_late)):
            target[name] = {f: int(v) for f, v in h.items()}
    return live, late


def committed_offsets(checkpoint: Path) -> dict[str, dict[str, int]]:
    """The offsets up to which the counters query has finished (the newest batch with a
    commit file: its increments are in Redis)."""
    done = [int(p.name) for p in (checkpoint / "commits").glob("[0-9]*") if p.name.isdigit()]
    if not done:
        return {}
    # Version line, metadata line, then one line per source: {topic: {partition: offset}}.
    return json.loads((checkpoint / "offsets" / str(max(done))).read_text().splitlines()[2])


def lag(bootstrap: str, checkpoint: Path, auth: KafkaAuth | None = None) -> int:
    """Records in the counted topics past the query's committed offsets (`auth` None: the
    environment's, spark_jobs/kafka_auth.py)."""
    from confluent_kafka import Consumer, TopicPartition

    read = committed_offsets(checkpoint)
    c = Consumer({**client_config(bootstrap, auth), "group.id": LAG_PROBE_GROUP, "enable.auto.commit": False})
    try:
        total = 0
        meta = c.list_topics(timeout=5)
        for t in COUNTED_TOPICS:
            for p in meta.topics[t].partitions:
                _, high = c.get_watermark_offsets(TopicPartition(t, p), timeout=5)
                total += max(0, high - int(read.get(t, {}).get(str(p), 0)))
        return total
    finally:
        c.close()
