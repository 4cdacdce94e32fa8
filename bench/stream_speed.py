"""The real-time path's figures: Kafka -> Spark Structured Streaming -> Redis with the
project's own servers and counters query in a scratch home (their own ports), fed by
`adlake stream demo`'s traffic (ad_assets/realtime/demo.py):

- latency (broker append -> counter, p50/p95/p99) and lag at --rate (default 100k events/s)
  for --seconds;
- the highest rate of a ladder at which p99 stays under 3 s (the sustained rate).

Every run also checks that the counters equal what the simulator sent.

    python -m bench.stream_speed                      # both, about 6 minutes
    python -m bench.stream_speed --rate 50000 --seconds 30 --no-ladder
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from ad_assets.realtime.demo import run_demo
from ad_assets.realtime.driver import StreamDriver
from ad_assets.realtime.servers import KafkaBroker, RedisServer
from ad_assets.settings import load_settings
from tests.stream_fixtures import free_port, free_port_pair

P99_TARGET_MS = 3000
LADDER = (80_000, 60_000, 40_000, 20_000, 10_000)


def measure(rate: int, seconds: float, ladder: bool, ladder_seconds: float = 30) -> dict:
    s = load_settings()
    home = Path(tempfile.mkdtemp(prefix="adlake-stream-bench-"))
    kafka_port = free_port_pair()
    broker = KafkaBroker(home / "kafka", kafka_port, kafka_port + 1, s.kafka_jars_dir)
    redis = RedisServer(home / "redis", free_port())
    out: dict = {"rate": rate, "seconds": seconds, "p99_target_ms": P99_TARGET_MS}
    try:
        broker.start()
        redis.start()
        driver = StreamDriver(home / "driver", broker.bootstrap, redis.url, s.spark_jars_dir)
        t0 = time.monotonic()
        driver.start()
        out["driver_start_s"] = round(time.monotonic() - t0, 1)
        print(f"stream bench: {rate:,} events/s for {seconds:g} s", flush=True)
        main = run_demo(broker.bootstrap, redis.url, driver.checkpoint, rate, seconds)
        print(main.text(), flush=True)
        out["at_rate"] = asdict(main)
        if ladder:
            out["ladder"] = []
            for r in LADDER:
                print(f"stream bench: ladder {r:,} events/s for {ladder_seconds:g} s", flush=True)
                step = run_demo(broker.bootstrap, redis.url, driver.checkpoint, r, ladder_seconds)
                print(step.text(), flush=True)
                out["ladder"].append(asdict(step))
                if step.counters_match and step.latency_ms.get("p99", 1e9) < P99_TARGET_MS:
                    out["sustained_events_per_s_p99_under_3s"] = round(step.sustained_events_per_s)
                    break
        driver.stop()
    finally:
        broker.stop()
        redis.stop()
        shutil.rmtree(home, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.stream_speed", description=__doc__)
    p.add_argument("--rate", type=int, default=100_000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--no-ladder", action="store_true", help="only the run at --rate")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    a = p.parse_args(argv)
    r = measure(a.rate, a.seconds, not a.no_ladder)
    text = json.dumps(r, indent=2)
    if a.out:
        a.out.write_text(text)
    sustained = r.get("sustained_events_per_s_p99_under_3s")
    print(
        f"\nsustained with p99 < 3 s: {sustained:,} events/s"
        if sustained
        else "\nno ladder rate kept p99 < 3 s"
    )
    return 0 if r["at_rate"]["counters_match"] else 1


if __name__ == "__main__":
    sys.exit(main())
