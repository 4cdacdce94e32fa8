"""Speed of the built-in log generator on one core: raw lines written per second, every
event type, JSON Lines and gzip included, with the time per phase.

The case is the pipeline's: the world starts at START and the arrival date written is
its last day, so --days 1 is what a first day costs and --days 30 is day 30 of 30 (which
simulates every earlier day whose conversions can still arrive on it).

    python -m bench.generator_speed --impressions-per-day 1600000 --days 1
    python -m bench.generator_speed --impressions-per-day 100000 --days 30
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta

START = date(2026, 11, 1)
SEED = 42
PHASES = ("simulate", "serialise", "group", "gzip", "write")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--impressions-per-day", type=int, default=1_600_000)
    ap.add_argument("--days", type=int, default=1, help="world length; its last day is the one written")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--cpu", type=int, default=None, help="core to run on (default: the last one)")
    ap.add_argument("--repeat", type=int, default=1, help="runs (the first pays for fresh memory)")
    a = ap.parse_args(argv)
    _one_core(a.cpu)

    from ad_assets.generator import generate  # after pinning: thread pools size to the core
    from spark_jobs.lake import Lake

    arrival = START + timedelta(days=a.days - 1)
    print(
        f"generator: {a.impressions_per_day:,} impressions/day, world {START} + {a.days} day(s), "
        f"writing {arrival}, seed {a.seed}, core {sorted(os.sched_getaffinity(0))}"
    )
    for run in range(a.repeat):
        with tempfile.TemporaryDirectory(prefix="adlake-genspeed-") as tmp:
            wall, cpu = time.perf_counter(), time.process_time()
            report = generate(Lake(tmp), START, a.days, a.impressions_per_day, a.seed, [arrival])
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        lines = sum(report.lines.values())
        print(
            f"run {run + 1}: {lines:,} lines in {report.files} files, {report.bytes / 1e6:,.0f} MB gz; "
            f"{wall:.2f} s wall ({lines / wall:,.0f} events/s), "
            f"{cpu:.2f} s cpu ({lines / cpu:,.0f} events/cpu-s)"
        )
        other = wall - sum(report.seconds.values())
        for phase in (*PHASES, *sorted(set(report.seconds) - set(PHASES))):
            secs = report.seconds.get(phase, 0.0)
            print(f"  {phase:<10} {secs:8.2f} s  {100 * secs / wall:5.1f}%")
        print(f"  {'other':<10} {other:8.2f} s  {100 * other / wall:5.1f}%")
    return 0


def _one_core(cpu: int | None) -> None:
    """Pin the process to one core before numpy/polars start any thread pool."""
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[-1] if cpu is None else cpu})
    for var in ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"


if __name__ == "__main__":
    sys.exit(main())
