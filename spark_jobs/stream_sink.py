"""The counters query's sink: each micro-batch's increments applied to Redis in one
atomic script under a fence (the last batch id applied, per query), so a micro-batch that
Spark replays after a crash changes nothing; contract failures to the dead-letter topic.

Redis runs with appendfsync always (ad_assets/realtime/servers.py): a batch the script
applied survives a Redis restart. If Redis comes back empty while the query has applied
batches before, the fence is missing: the script records that the counters are incomplete
from then on (INCOMPLETE_KEY) rather than letting them read silently low."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame

from spark_jobs.kafka_auth import KafkaAuth, client_config
from spark_jobs.stream_layout import (
    DAY_TTL,
    DEAD_LETTER_TOPIC,
    FENCE_KEY,
    INCOMPLETE_KEY,
    KEY_PREFIX,
    LATENCY_BUCKET_MS,
    LATENCY_KEY,
    PROGRESS_KEY,
    WINDOW_TTL,
    day_index_key,
    day_key,
    late_key,
    top_key,
    window_key,
)
from spark_jobs.streaming import DEAD, DEAD_LINE, LATE, LATENCY, WINDOW, summed

# ARGV: batch id, now (ms), then ops of 5: kind (h: HINCRBY, z: ZINCRBY, s: SADD), key,
# field or member, amount, ttl seconds. KEYS: fence, progress, incomplete.
_APPLY = """
local batch = tonumber(ARGV[1])
local fence = redis.call('GET', KEYS[1])
if fence and tonumber(fence) >= batch then return 0 end
if fence and tonumber(fence) < batch - 1 and redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('HSET', KEYS[3], 'since_batch', batch, 'at_ms', ARGV[2],
    'reason', 'batches ' .. (tonumber(fence) + 1) .. '-' .. (batch - 1)
      .. ' are missing (Redis came back with older data)')
end
if (not fence) and batch > 0 and redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('HSET', KEYS[3], 'since_batch', batch, 'at_ms', ARGV[2],
    'reason', 'the counters of earlier batches are gone (Redis lost its data)')
end
local i = 3
while i <= #ARGV do
  local op, key, f, n, ttl = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  if op == 'h' then redis.call('HINCRBY', key, f, n)
  elseif op == 'z' then redis.call('ZINCRBY', key, n, f)
  else redis.call('SADD', key, f) end
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  i = i + 5
end
redis.call('SET', KEYS[1], batch)
return 1
"""


@dataclass
class BatchReport:
    batch_id: int
    applied: bool
    events: int = 0
    late: int = 0
    dead_letter: int = 0
    ops: int = 0
    latency_ms: dict[int, int] = field(default_factory=dict)


def redis_ops(rows: list, now_ms: int) -> tuple[list, BatchReport]:
    """The script's ops for the collected rows of streaming.summed(report_rows).
    Pure: tested without Redis."""
    ops: list = []
    report = BatchReport(batch_id=-1, applied=False)
    window_ttl, day_ttl = int(WINDOW_TTL.total_seconds()), int(DAY_TTL.total_seconds())
    for r in rows:
        kind, ws, day, scope, key, fld, value = r
        if kind == WINDOW:
            ops += ["h", window_key(ws, scope, key), fld, value, window_ttl]
            ops += ["h", day_key(day, scope, key), fld, value, day_ttl]
            ops += ["s", day_index_key(day), day_key(day, scope, key), 0, day_ttl]
            if scope == "campaign":  # every campaign of the window is a member (clicks-only ones at 0)
                ops += ["z", top_key(ws), key, value if fld == "spend_micros" else 0, window_ttl]
        elif kind == LATE:
            ops += ["h", late_key(day, scope, key), fld, value, day_ttl]
            ops += ["s", day_index_key(day), late_key(day, scope, key), 0, day_ttl]
            if fld in ("impressions", "clicks", "conversions") and scope != "channel":
                report.late += value
        elif kind == DEAD:
            report.dead_letter += value
        elif kind == LATENCY:
            report.events += value
            bucket = max(0, now_ms - ws) // LATENCY_BUCKET_MS * LATENCY_BUCKET_MS
            report.latency_ms[bucket] = report.latency_ms.get(bucket, 0) + value
    for bucket, n in sorted(report.latency_ms.items()):
        ops += ["h", LATENCY_KEY, str(bucket), n, 0]
    for name, n in (("events", report.events), ("late", report.late), ("dead_letter", report.dead_letter)):
        if n:
            ops += ["h", PROGRESS_KEY, name, n, 0]
    report.ops = len(ops) // 5
    return ops, report


def reset_counters(client) -> int:
    """Deletes every key of the real-time path (counters, fences, progress): a driver that
    starts without a checkpoint reads Kafka from its earliest retained offset and rebuilds
    them, rather than adding what it reads to counts that already hold it."""
    deleted = 0
    for pattern in (f"{KEY_PREFIX}w*", f"{KEY_PREFIX}day:*", f"{KEY_PREFIX}late:*", f"{KEY_PREFIX}stream:*"):
        keys = list(client.scan_iter(pattern, count=10_000))
        for i in range(0, len(keys), 10_000):
            deleted += client.delete(*keys[i : i + 10_000])
    return deleted


def query_id(checkpoint: str) -> str:
    """The query's id, kept in its checkpoint across restarts: the fence is per query, so
    a new checkpoint (batch ids from 0 again) starts its own."""
    return json.loads((Path(checkpoint) / "metadata").read_text())["id"]


class CounterSink:
    """foreachBatch function of the counters query."""

    def __init__(
        self, redis_url: str, kafka_bootstrap: str, checkpoint: str, kafka_auth: KafkaAuth | None = None
    ) -> None:
        self.redis_url = redis_url
        self.kafka_bootstrap = kafka_bootstrap
        self.kafka_auth = kafka_auth  # None: the environment's (spark_jobs/kafka_auth.py)
        self.checkpoint = checkpoint
        self._client = None
        self._script = None
        self._producer = None
        self.last: BatchReport | None = None

    def _redis(self):
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.redis_url, socket_timeout=30)
            self._script = self._client.register_script(_APPLY)
        return self._client

    def __call__(self, rows_df: DataFrame, batch_id: int) -> None:
        """`rows_df`: one micro-batch of streaming.report_rows; summed and collected in one
        Spark job, then applied to Redis."""
        rows = summed(rows_df).collect()
        dead = [(r[4], r[5]) for r in rows if r[0] == DEAD_LINE]
        if dead:
            # Before the fence moves: a crash in between sends them again on the replay,
            # under the same key (topic/partition/offset), so a consumer can drop the copy.
            self._dead_letters(dead)
        self.last = self.apply(rows, batch_id)
        _crash_once_for_tests()

    def _dead_letters(self, records: list[tuple[str, str]]) -> None:
        from confluent_kafka import Producer

        if self._producer is None:
            self._producer = Producer(
                {
                    **client_config(self.kafka_bootstrap, self.kafka_auth),
                    "acks": "all",
                    "enable.idempotence": True,
                }
            )
        for key, value in records:
            self._producer.produce(DEAD_LETTER_TOPIC, value.encode(), key.encode())
        left = self._producer.flush(30)
        if left:
            raise RuntimeError(f"{left} dead-letter records not acknowledged by Kafka within 30 s")

    def _run_script(self, keys: list[str], args: list) -> bool:
        """The script, again while Redis restarts: it is atomic and fenced, so a call whose
        answer was lost is safe to repeat."""
        import redis

        deadline = time.monotonic() + REDIS_RETRY_SECONDS
        while True:
            try:
                return bool(self._script(keys=keys, args=args))
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def apply(self, rows: list, batch_id: int) -> BatchReport:
        client = self._redis()
        now_ms = int(time.time() * 1000)
        ops, report = redis_ops(rows, now_ms)
        report.batch_id = batch_id
        query = query_id(self.checkpoint)
        keys = [f"{FENCE_KEY}:{query}", PROGRESS_KEY, INCOMPLETE_KEY]
        report.applied = self._run_script(keys, [batch_id, now_ms, *ops])
        if report.applied:
            client.hset(PROGRESS_KEY, mapping={"batch": batch_id, "at_ms": now_ms, "query": query})
        else:  # Spark replayed a batch the fence had seen: nothing applied twice
            client.hincrby(PROGRESS_KEY, "replays_skipped", 1)
        return report


REDIS_RETRY_SECONDS = 60.0  # a Redis restart, not an outage: past this the batch fails


def _crash_once_for_tests() -> None:
    """ADLAKE_STREAM_CRASH_ONCE=<file>: the first batch after which that file does not
    exist yet creates it and kills the process, after Redis took the batch and before
    Spark records it done: the replay on restart must change nothing (the fence)."""
    marker = os.environ.get("ADLAKE_STREAM_CRASH_ONCE")
    if marker and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(137)
