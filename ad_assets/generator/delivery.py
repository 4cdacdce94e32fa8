"""How logs reach the lake: shipping delay (most within seconds, ~2% over an hour, up to
48 h), resends of already-shipped lines, and a few lines mangled on the way.

Only lines that land on the dates being written are kept (and later serialised); the
random draws of the others still happen, in the same order, so every line is what it
always was."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np

from ad_assets.generator.columns import Column, take_columns
from ad_assets.generator.jsonlines import LineWriter, lines_of
from ad_assets.generator.simulate import DAY_US, HOUR_US, US
from spark_jobs.contracts import MAX_LATENESS, RAW_FIELDS

MAX_LATENESS_US = int(MAX_LATENESS.total_seconds()) * US
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def epoch_day(day: date) -> int:
    """Days since 1970-01-01."""
    return day.toordinal() - _EPOCH_ORDINAL


@dataclass(frozen=True)
class DeliveryProfile:
    late_rate: float = 0.02  # share of events shipped more than an hour late
    very_late_share: float = 0.3  # of those, share 6-48 h late (the rest 1-6 h)
    resend_rate: float = 0.005  # lines shipped twice
    malformed_rate: float = 0.001  # lines truncated, mistyped or missing a required field


class Phases:
    """Seconds spent per phase of the generation (for benchmarks and logs)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start


def arrival_times(rng: np.random.Generator, event_ts: np.ndarray, p: DeliveryProfile) -> np.ndarray:
    n = len(event_ts)
    delay = np.minimum(rng.lognormal(np.log(20e6), 1.0, n), HOUR_US - 1)
    late = rng.random(n) < p.late_rate
    very = rng.random(n) < p.very_late_share
    late_delay = np.where(
        very, rng.uniform(6 * HOUR_US, MAX_LATENESS_US, n), rng.uniform(HOUR_US, 6 * HOUR_US, n)
    )
    return event_ts + np.where(late, late_delay, delay).astype(np.int64)


def _mangle(rng: np.random.Generator, event_type: str, line: bytes) -> bytes:
    kind = rng.choice(["truncated", "bad_type", "missing"], p=[0.5, 0.25, 0.25])
    if kind == "truncated":
        return line[: int(rng.integers(5, max(len(line) - 5, 6)))]
    obj = json.loads(line)
    required = [f for f in RAW_FIELDS[event_type] if f.required and "." not in f.json_path]
    if kind == "missing":
        obj.pop(required[int(rng.integers(0, len(required)))].name, None)
    else:
        typed = [f for f in required if f.dtype != "string"]
        obj[typed[int(rng.integers(0, len(typed)))].name] = "n/a"
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass
class Shipment:
    """One event day's lines of one event type that land on the dates being written, in
    arrival order (ties: in shipping order)."""

    event_type: str
    cols: dict[str, Column]
    rows: np.ndarray  # each line's row in `cols` (a resend repeats its row)
    arrival: np.ndarray  # µs since the epoch, ascending
    mangled_at: np.ndarray  # indices of the mangled lines, ascending
    mangled: list[bytes]  # their text, newline included

    @cached_property
    def writer(self) -> LineWriter:
        return lines_of(self.event_type, self.cols)

    def arrived_by_end_of(self, day: date) -> int:
        """How many lines arrive on `day` or earlier (they come first)."""
        return int(np.searchsorted(self.arrival, (epoch_day(day) + 1) * DAY_US))

    def keep_from(self, k: int) -> None:
        """Forget lines [0, k) (written); once most rows of the columns are no longer
        needed, keep only those that are (a day's columns are large)."""
        kept = self.mangled_at >= k
        self.mangled = [m for m, keep in zip(self.mangled, kept, strict=True) if keep]
        self.mangled_at = self.mangled_at[kept] - k
        self.arrival = self.arrival[k:]
        self.rows = self.rows[k:]
        if 2 * len(self.rows) < len(self.cols["event_ts"]):
            self.cols = take_columns(self.cols, self.rows)
            self.rows = np.arange(len(self.rows))
            self.__dict__.pop("writer", None)  # made again for the new columns


def ship(
    rng: np.random.Generator,
    event_type: str,
    cols: dict[str, Column],
    p: DeliveryProfile,
    lands: Callable[[np.ndarray], np.ndarray],
    phases: Phases,
) -> Shipment:
    """Arrival times, resends and mangling of one event day's events: the draws of every
    line, in the same order as ever. Keeps the lines whose arrival `lands` accepts."""
    event_ts = cols["event_ts"]
    n = len(event_ts)
    with phases("simulate"):
        arrival = arrival_times(rng, event_ts, p)
        rows = np.arange(n)  # shipped line -> event row; resends are appended
        resend = np.flatnonzero(rng.random(n) < p.resend_rate)
        if len(resend):
            again = arrival[resend] + rng.integers(60 * US, 6 * HOUR_US, len(resend))
            again = np.minimum(again, event_ts[resend] + MAX_LATENESS_US)
            rows = np.concatenate([rows, resend])
            arrival = np.concatenate([arrival, again])
        bad = np.flatnonzero(rng.random(len(rows)) < p.malformed_rate)
    with phases("group"):
        keep = np.flatnonzero(lands(arrival))
        keep = keep[np.argsort(arrival[keep], kind="stable")]  # by arrival, then as shipped
    s = Shipment(event_type, cols, rows[keep], arrival[keep], np.empty(0, dtype=np.int64), [])
    if len(bad):
        with phases("serialise"):
            # How a line is mangled depends on its length: every bad line is written.
            lines = _lines(lines_of(event_type, take_columns(cols, rows[bad])))
            mangled = [_mangle(rng, event_type, line) + b"\n" for line in lines]
        # Keep those that land, at their place among the kept lines.
        place = np.full(len(rows), -1)
        place[keep] = np.arange(len(keep))
        landed = np.flatnonzero(place[bad] >= 0)
        landed = landed[np.argsort(place[bad][landed])]
        s.mangled_at = place[bad][landed]
        s.mangled = [mangled[i] for i in landed]
    return s


def _lines(writer: LineWriter) -> list[bytes]:
    """Each line of the writer's columns, without its newline."""
    data, ends = writer.write(np.arange(writer.n))
    raw = data.tobytes()
    starts = [0, *ends[:-1].tolist()]
    return [raw[a : b - 1] for a, b in zip(starts, ends.tolist(), strict=True)]
