"""Column representations of the simulation. Strings are not materialised per row while
the day is simulated: categorical values stay codes into a small table (`Coded`) and random
ids stay their random bytes (`HexIds`). Gathering rows then moves a few bytes per row, and
serialisation writes each distinct value's JSON once. `materialise` gives plain numpy
arrays (strings as `str`), for callers and tests that read the columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ad_assets.generator.sampling import random_bytes

# Two lowercase hex digits per byte value, as a uint16 each: a byte array maps to its hex
# text with one lookup (the uint16's memory is the two ASCII digits, in order).
_HEX_PAIRS = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint16)


@dataclass(frozen=True)
class Coded:
    """A categorical column: `values[codes]`, with `values` small (a vocabulary or one
    entity table)."""

    codes: np.ndarray  # integer, one per row
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, rows: np.ndarray) -> Coded:
        return Coded(self.codes[rows], self.values)

    def materialise(self) -> np.ndarray:
        return self.values[self.codes]


@dataclass(frozen=True)
class HexIds:
    """Random ids: `prefix` + lowercase hex of each row's random bytes."""

    raw: np.ndarray  # (rows, bytes per id) uint8
    prefix: str = ""

    def __len__(self) -> int:
        return len(self.raw)

    def take(self, rows: np.ndarray) -> HexIds:
        return HexIds(self.raw[rows], self.prefix)

    def hex_ascii(self) -> np.ndarray:
        """The hex digits (no prefix) as a (rows, 2 * bytes) uint8 matrix of ASCII."""
        return _HEX_PAIRS[self.raw].view(np.uint8).reshape(len(self.raw), 2 * self.raw.shape[1])

    def materialise(self) -> np.ndarray:
        hex_digits = self.hex_ascii().view(f"S{2 * self.raw.shape[1]}").ravel().astype(str)
        return np.char.add(self.prefix, hex_digits) if self.prefix else hex_digits


Column = np.ndarray | Coded | HexIds


def take(col: Column, rows: np.ndarray) -> Column:
    return col[rows] if isinstance(col, np.ndarray) else col.take(rows)


def take_columns(
    cols: dict[str, Column], rows: np.ndarray, names: tuple[str, ...] | None = None
) -> dict[str, Column]:
    """Columns `names` (default: all) at `rows`. Codes shared by several columns are
    gathered once and stay shared, which lets serialisation treat those columns as one."""
    gathered: dict[int, np.ndarray] = {}
    out: dict[str, Column] = {}
    for name in names or tuple(cols):
        col = cols[name]
        if isinstance(col, Coded):
            if id(col.codes) not in gathered:
                gathered[id(col.codes)] = col.codes[rows]
            out[name] = Coded(gathered[id(col.codes)], col.values)
        else:
            out[name] = take(col, rows)
    return out


def concat_columns(parts: list[dict[str, Column]]) -> dict[str, Column]:
    """Rows of several sets of the same columns, one set after another. Codes that columns
    share in every set stay shared (serialisation treats those columns as one)."""
    shared: dict[tuple[int, ...], np.ndarray] = {}
    out: dict[str, Column] = {}
    for name, first in parts[0].items():
        cols = [p[name] for p in parts]
        if isinstance(first, Coded):
            if any(c.values is not first.values and not np.array_equal(c.values, first.values) for c in cols):
                raise ValueError(f"column {name} has different vocabularies")
            key = tuple(id(c.codes) for c in cols)
            if key not in shared:
                shared[key] = np.concatenate([c.codes for c in cols])
            out[name] = Coded(shared[key], first.values)
        elif isinstance(first, HexIds):
            out[name] = HexIds(np.concatenate([c.raw for c in cols]), first.prefix)
        else:
            out[name] = np.concatenate(cols)
    return out


def materialise(col: Column) -> np.ndarray:
    return col if isinstance(col, np.ndarray) else col.materialise()


def random_ids(rng: np.random.Generator, n: int, nbytes: int = 16, prefix: str = "") -> HexIds:
    """n random ids of `nbytes` bytes (2 * nbytes hex digits), all drawn in one call."""
    if n == 0:  # no draw at all: the stream stays where it was
        return HexIds(np.empty((0, nbytes), dtype=np.uint8), prefix)
    raw = random_bytes(rng, n * nbytes).reshape(n, nbytes)  # = rng.bytes(n * nbytes)
    return HexIds(raw, prefix)
