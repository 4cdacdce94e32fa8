"""What Redis says about the counters query: its last batch, what it counted, whether the
counters are complete. Read by `adlake stream status`, the Dagster health checks and the
demo; imports neither Spark nor Dagster."""

from __future__ import annotations

import time
from dataclasses import dataclass

from spark_jobs.stream_layout import DRIVER_KEY, INCOMPLETE_KEY, PROGRESS_KEY


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
