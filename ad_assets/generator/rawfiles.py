"""Raw files: one gzip JSON Lines file per event type, arrival date and hour, assembled
from the shipments of the event days whose lines land in that hour."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from isal import igzip

from ad_assets.generator.delivery import Phases, Shipment, epoch_day
from ad_assets.generator.simulate import DAY_US, HOUR_US

Lines = tuple[Shipment, int, int]  # lines [first, end) of a shipment


@dataclass
class FileBuffer:
    """One file's uncompressed bytes, in memory reused from file to file (fresh memory is
    slow to touch the first time)."""

    data: np.ndarray = field(default_factory=lambda: np.empty(64 << 20, dtype=np.uint8))
    size: int = 0

    def clear(self) -> None:
        self.size = 0

    def extend(self, chunk: np.ndarray | bytes) -> None:
        b = np.frombuffer(chunk, dtype=np.uint8) if isinstance(chunk, bytes) else chunk
        end = self.size + len(b)
        if end > len(self.data):
            grown = np.empty(max(end, len(self.data) * 3 // 2), dtype=np.uint8)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = b
        self.size = end

    def gzip(self) -> bytes:
        # ISA-L level 1: several times faster than zlib 6 at a slightly larger file.
        return igzip.compress(self.data[: self.size], compresslevel=1)


def hour_files(shipments: list[Shipment], day: date) -> Iterator[tuple[int, list[Lines]]]:
    """(hour, its lines: (shipment, first, end) in event-day order) for each hour of `day`
    that has lines. A file holds its hour's lines of one event day after another."""
    bounds = epoch_day(day) * DAY_US + HOUR_US * np.arange(25)
    edges = [np.searchsorted(s.arrival, bounds) for s in shipments]
    for hour in range(24):
        parts = [(s, int(e[hour]), int(e[hour + 1])) for s, e in zip(shipments, edges, strict=True)]
        parts = [part for part in parts if part[2] > part[1]]
        if parts:
            yield hour, parts


def fill(buf: FileBuffer, parts: list[Lines], phases: Phases) -> int:
    """Write the lines into `buf` (cleared first), mangled ones as mangled; their count."""
    buf.clear()
    for s, first, end in parts:
        step = s.writer.batch_rows()
        for a in range(first, end, step):
            b = min(a + step, end)
            with phases("serialise"):
                data, ends = s.writer.write(s.rows[a:b])
            with phases("group"):
                _splice(buf, data, ends, a, s.mangled_at, s.mangled)
    return sum(end - first for _, first, end in parts)


def _splice(
    buf: FileBuffer, data: np.ndarray, ends: np.ndarray, first: int, at: np.ndarray, mangled: list[bytes]
) -> None:
    """Append lines [first, first + len(ends)) to `buf`, swapping in mangled lines."""
    lo, hi = np.searchsorted(at, [first, first + len(ends)])
    cursor = 0
    for i in range(int(lo), int(hi)):
        line = int(at[i]) - first
        buf.extend(data[cursor : ends[line - 1] if line else 0])
        buf.extend(mangled[i])
        cursor = int(ends[line])
    buf.extend(data[cursor:])
