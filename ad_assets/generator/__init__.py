"""Realistic ad-server logs: a simulated ad ecosystem (catalog), its daily traffic
(simulate) and how the logs are shipped to the lake (delivery).

`generate` writes raw/<event_type>/dt=YYYY-MM-DD/hour=HH/part-00000.jsonl.gz by arrival
time. The simulated world starts at `start`; "now" is the end of its last day, so events
that would arrive later are not written yet. Each event day draws from its own random
stream, so an arrival date's files are the same whichever window produced them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow.fs as pafs

from ad_assets.generator.catalog import build_catalog
from ad_assets.generator.delivery import (
    DeliveryProfile,
    group_by_arrival_hour,
    gzip_lines,
    serialise,
)
from ad_assets.generator.simulate import TrafficProfile, day_start_us, generate_day
from spark_jobs.contracts import EVENT_TYPES, LATENESS_DAYS
from spark_jobs.lake import Lake

# Conversions follow their click by up to 30 days: the event days that can land on an
# arrival date reach back this far.
LOOKBACK_DAYS = 30 + LATENESS_DAYS + 1


@dataclass
class GenerationReport:
    files: int = 0
    bytes: int = 0
    lines: dict[str, int] = field(default_factory=dict)  # per event type, as written
    arrival_dates: list[str] = field(default_factory=list)


def generate(
    lake: Lake,
    start: date,
    days: int,
    impressions_per_day: int,
    seed: int = 42,
    arrival_dates: list[date] | None = None,
    traffic: TrafficProfile | None = None,
    delivery: DeliveryProfile | None = None,
) -> GenerationReport:
    """Write the raw files of `arrival_dates` (default: every day of the window)."""
    end = start + timedelta(days=days)  # "now": nothing arrives after this
    targets = sorted(set(arrival_dates or [start + timedelta(days=i) for i in range(days)]))
    if any(not (start <= d < end) for d in targets):
        raise ValueError(f"arrival dates must lie in the simulated window [{start}, {end})")
    dp = delivery or DeliveryProfile()
    cat = build_catalog(seed, start, impressions_per_day)
    first_event_day = max(start, targets[0] - timedelta(days=LOOKBACK_DAYS))
    target_set = set(targets)
    now_us = day_start_us(end)

    buckets: dict[str, dict[tuple[date, int], list[bytes]]] = {t: {} for t in EVENT_TYPES}
    day = first_event_day
    while day <= targets[-1]:
        events = generate_day(cat, seed, day, impressions_per_day, traffic)
        rng = np.random.default_rng([seed, day.toordinal(), 0xD11])
        for event_type in EVENT_TYPES:
            lines, arrival = serialise(rng, event_type, events[event_type], dp)
            keep = arrival < now_us
            idx = np.flatnonzero(keep)
            grouped = group_by_arrival_hour([lines[i] for i in idx], arrival[idx])
            for key, chunk in grouped.items():
                if key[0] in target_set:
                    buckets[event_type].setdefault(key, []).extend(chunk)
        day += timedelta(days=1)

    fs, base = lake.arrow_fs()
    report = GenerationReport(arrival_dates=[d.isoformat() for d in targets])
    for event_type in EVENT_TYPES:
        for d in targets:  # replace whole arrival dates: rerunning is idempotent
            _delete_dir(fs, f"{base}/raw/{event_type}/dt={d.isoformat()}")
        report.lines[event_type] = 0
        for (d, hour), lines in sorted(buckets[event_type].items()):
            # Lines of one hour may come from several event days: order by arrival is kept
            # within each day's batch; the file holds them in that order.
            folder = f"{base}/raw/{event_type}/dt={d.isoformat()}/hour={hour:02d}"
            fs.create_dir(folder, recursive=True)
            payload = gzip_lines(lines)
            # compression=None: pyarrow would otherwise gzip again because of the extension.
            with fs.open_output_stream(f"{folder}/part-00000.jsonl.gz", compression=None) as out:
                out.write(payload)
            report.files += 1
            report.bytes += len(payload)
            report.lines[event_type] += len(lines)
    return report


def _delete_dir(fs: pafs.FileSystem, path: str) -> None:
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.NotFound:
        fs.delete_dir(path)
