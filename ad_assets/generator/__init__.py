"""Realistic ad-server logs: a simulated ad ecosystem (catalog), its daily traffic
(simulate) and how the logs are shipped to the lake (delivery), written as JSON Lines
(jsonlines, textblocks) in gzip files by arrival hour (rawfiles).

`generate` writes raw/<event_type>/dt=YYYY-MM-DD/hour=HH/part-00000.jsonl.gz by arrival
time. The simulated world starts at `start`; "now" is the end of its last day, so events
that would arrive later are not written yet. Each event day draws from its own random
stream, so an arrival date's files are the same whichever window produced them.

Speed (bench/generator_speed.py): columns hold codes and random bytes rather than strings
(columns), lines are assembled in bulk in numpy rather than one Python object each, and
only the lines that land on the dates being written are serialised.

An `Incident` (incident.py) makes the conversions of a campaign, an advertiser or the
whole platform collapse for a while, for the KPI alerts' demo and tests; without one the
output is unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow.fs as pafs

from ad_assets.generator.catalog import build_catalog
from ad_assets.generator.delivery import DeliveryProfile, Phases, Shipment, epoch_day, ship
from ad_assets.generator.incident import Incident, parse_incident
from ad_assets.generator.rawfiles import FileBuffer, fill, hour_files
from ad_assets.generator.simulate import DAY_US, TRUTH, TrafficProfile, day_start_us, simulate_day
from ad_assets.generator.truth import write_truth
from spark_jobs.contracts import EVENT_TYPES
from spark_jobs.lake import Lake
from spark_jobs.layers import LATENESS_DAYS

# Conversions follow their click by up to 30 days: the event days that can land on an
# arrival date reach back this far.
LOOKBACK_DAYS = 30 + LATENESS_DAYS + 1
__all__ = ["GenerationReport", "Incident", "generate", "parse_incident"]


@dataclass
class GenerationReport:
    files: int = 0
    bytes: int = 0
    lines: dict[str, int] = field(default_factory=dict)  # per event type, as written
    arrival_dates: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per phase of the work


def generate(
    lake: Lake,
    start: date,
    days: int,
    impressions_per_day: int,
    seed: int = 42,
    arrival_dates: list[date] | None = None,
    traffic: TrafficProfile | None = None,
    delivery: DeliveryProfile | None = None,
    incident: Incident | None = None,
) -> GenerationReport:
    """Write the raw files of `arrival_dates` (default: every day of the window).

    Simulates the event days whose lines can land on those dates, in order; a date's files
    are written as soon as its own day is simulated (nothing arrives before it happens),
    and only the lines bound for later dates are kept from one day to the next."""
    end = start + timedelta(days=days)  # "now": nothing arrives after this
    targets = sorted(set(arrival_dates or [start + timedelta(days=i) for i in range(days)]))
    if any(not (start <= d < end) for d in targets):
        raise ValueError(f"arrival dates must lie in the simulated window [{start}, {end})")
    dp = delivery or DeliveryProfile()
    phases = Phases()
    cat = build_catalog(seed, start, impressions_per_day)
    if incident is not None:
        incident.check(cat)  # an unknown target fails before anything is written
    now_us = day_start_us(end)
    target_days = np.array([epoch_day(d) for d in targets])
    target_set = set(targets)

    def lands(arrival: np.ndarray) -> np.ndarray:
        return (arrival < now_us) & np.isin(arrival // DAY_US, target_days)

    report = GenerationReport(
        arrival_dates=[d.isoformat() for d in targets], lines=dict.fromkeys(EVENT_TYPES, 0)
    )
    writer = _Writer(lake, report, phases)
    pending: dict[str, list[Shipment]] = {t: [] for t in EVENT_TYPES}
    for day in _event_days(start, targets):
        with phases("simulate"):
            events = simulate_day(cat, seed, day, impressions_per_day, traffic, incident)
        if day in target_set:
            with phases("truth"):
                write_truth(writer.fs, writer.base, day, events[TRUTH])
        rng = np.random.default_rng([seed, day.toordinal(), 0xD11])
        for event_type in EVENT_TYPES:
            for part in events[event_type]:
                pending[event_type].append(ship(rng, event_type, part, dp, lands, phases))
        del events
        # Nothing arrives before it happens: once `day` is simulated, its files are complete.
        for event_type, shipments in pending.items():
            if day in target_set:
                writer.write_day(event_type, day, shipments)
            for s in shipments:
                s.keep_from(s.arrived_by_end_of(day))  # what is left lands on a later date
            pending[event_type] = [s for s in shipments if len(s.arrival)]
    report.seconds = dict(phases.seconds)
    return report


def _event_days(start: date, targets: list[date]) -> list[date]:
    """Event days whose lines can arrive on a target date (each has its own random
    stream, so skipping the others changes nothing)."""
    days = {
        t - timedelta(days=back)
        for t in targets
        for back in range(LOOKBACK_DAYS + 1)
        if t - timedelta(days=back) >= start
    }
    return sorted(days)


class _Writer:
    """Replaces whole arrival dates of raw/ (rerunning is idempotent)."""

    def __init__(self, lake: Lake, report: GenerationReport, phases: Phases) -> None:
        self.fs, self.base = lake.arrow_fs()
        self.report = report
        self.phases = phases
        self.buf = FileBuffer()

    def write_day(self, event_type: str, day: date, shipments: list[Shipment]) -> None:
        with self.phases("write"):
            _delete_dir(self.fs, f"{self.base}/raw/{event_type}/dt={day.isoformat()}")
        for hour, parts in hour_files(shipments, day):
            # Lines of one hour may come from several event days: one day's after another,
            # each day's in arrival order.
            lines = fill(self.buf, parts, self.phases)
            with self.phases("gzip"):
                payload = self.buf.gzip()
            with self.phases("write"):
                folder = f"{self.base}/raw/{event_type}/dt={day.isoformat()}/hour={hour:02d}"
                self.fs.create_dir(folder, recursive=True)
                # compression=None: pyarrow would otherwise gzip again because of the extension.
                with self.fs.open_output_stream(f"{folder}/part-00000.jsonl.gz", compression=None) as out:
                    out.write(payload)
            self.report.files += 1
            self.report.bytes += len(payload)
            self.report.lines[event_type] += lines


def _delete_dir(fs: pafs.FileSystem, path: str) -> None:
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.NotFound:
        fs.delete_dir(path)
