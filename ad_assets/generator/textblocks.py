"""Values as fixed-width ASCII blocks, for the byte matrix of JSON lines: a (rows, width)
uint8 array per column of values, NUL where a value is shorter than the widest, built with
a few table lookups per row rather than a Python string per value."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

US = 1_000_000
DAY_US = 86_400 * US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def float_ascii(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floats as polars writes them in JSON: the shortest decimal that reads back as the
    same double, '.0' on whole numbers, NaN as null. Values that are exactly some x.xxxx
    below 1e9 (prices here) are formatted in numpy: the decimal with at most 4 places is
    then the only one that short reading back as v, so it is the shortest. Polars does the
    others."""
    q = np.round(v * 1e4)
    fast = ~np.signbit(v) & (v < 1e9) & (q / 1e4 == v)
    whole, frac = np.divmod(np.where(fast, q, 0).astype(np.int64), 10_000)
    digits, lengths = _whole_digits(whole)
    out = np.empty((len(v), digits.shape[1] + 5), dtype=np.uint8)
    out[:, : digits.shape[1]] = digits
    item_view(out, digits.shape[1], 5)[...] = _FRACTION[frac]
    lengths += _FRACTION_LENGTH[frac]
    nan = np.isnan(v)
    out[nan] = 0
    out[nan, :4] = np.frombuffer(b"null", dtype=np.uint8)
    lengths[nan] = 4
    return _with_polars(out, lengths, ~(fast | nan), lambda idx: _polars_floats(v[idx]))


def _polars_floats(v: np.ndarray) -> pl.Series:
    return pl.Series(v).fill_nan(None).cast(pl.String).fill_null("null")


def int_ascii(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integers as JSON writes them; negative ones (none here) by polars."""
    fast = (v >= 0) & (v <= np.iinfo(np.int64).max)
    out, lengths = _whole_digits(np.where(fast, v, 0).astype(np.int64))
    return _with_polars(out, lengths, ~fast, lambda idx: pl.Series(v[idx]).cast(pl.String))


def _whole_digits(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative integers, right-aligned in groups of four digits (NUL for leading
    zeros), each group looked up in a table; and their lengths."""
    groups = (len(str(int(v.max()))) + 3) // 4 if len(v) else 1
    out = np.empty((len(v), 4 * groups), dtype=np.uint8)
    lengths = np.zeros(len(v), dtype=np.int64)
    rest = v
    for j in range(groups):  # from the right
        group, rest = rest % 10_000, rest // 10_000
        higher = rest > 0  # then this group keeps its leading zeros
        shown = v >= 10 ** (4 * j) if j else True  # the units show even for 0
        text = np.where(higher, _GROUP_PADDED[group], np.where(shown, _GROUP[group], 0))
        item_view(out, 4 * (groups - 1 - j), 4)[...] = text.view("V4")
        lengths += np.where(higher, 4, np.where(shown, _GROUP_LENGTH[group], 0))
    return out, lengths


def _with_polars(
    out: np.ndarray, lengths: np.ndarray, slow: np.ndarray, strings: Callable[[np.ndarray], pl.Series]
) -> tuple[np.ndarray, np.ndarray]:
    """`out` with the rows `slow` replaced by polars' strings for them."""
    idx = np.flatnonzero(slow)
    if len(idx) == 0:
        return out, lengths
    s = strings(idx)
    width = max(out.shape[1], int(s.str.len_bytes().max()))
    out = np.pad(out, ((0, 0), (0, width - out.shape[1])))
    out[idx] = _padded(s, width)
    lengths[idx] = s.str.len_bytes().to_numpy()
    return out, lengths


def fixed_texts(texts: list[str], width: int) -> np.ndarray:
    """ASCII texts as one `width`-byte item each, NUL-padded after."""
    return np.array([t.encode() for t in texts], dtype=f"S{width}").view(f"V{width}")


# 0-9999 as digits, right-aligned in 4 bytes (NUL before), and zero-padded; as uint32 items.
_GROUP = np.frombuffer(b"".join(f"{i:>4}".replace(" ", "\0").encode() for i in range(10_000)), np.uint32)
_GROUP_PADDED = np.frombuffer(b"".join(f"{i:04}".encode() for i in range(10_000)), np.uint32)
_GROUP_LENGTH = np.array([len(str(i)) for i in range(10_000)])
# Times of day 'HH:MM:SS', and 0-999 as '.fff' and 'fff' (microseconds in two halves).
_CLOCK = fixed_texts([f"{s // 3600:02}:{s // 60 % 60:02}:{s % 60:02}" for s in range(86_400)], 8)
_MILLIS = fixed_texts([f".{i:03}" for i in range(1000)], 4)
_THOUSANDTHS = fixed_texts([f"{i:03}" for i in range(1000)], 3)
# The decimals of x.0000-x.9999 as shortest forms write them: '.2765', '.05', '.0'.
_FRACTIONS = ["." + (f"{i:04}".rstrip("0") or "0") for i in range(10_000)]
_FRACTION = fixed_texts(_FRACTIONS, 5)
_FRACTION_LENGTH = np.array([len(t) for t in _FRACTIONS])


def _padded(s: pl.Series, width: int) -> np.ndarray:
    """ASCII strings as a (rows, width) matrix, NUL-padded: padded to one width, the
    strings' buffer is that matrix."""
    arrow = s.str.pad_end(width, "\0").to_arrow()
    start = np.frombuffer(arrow.buffers()[1], dtype=np.int64)[arrow.offset]
    data = np.frombuffer(arrow.buffers()[2], dtype=np.uint8)[start : start + len(s) * width]
    return data.reshape(len(s), width)


def iso_timestamps(ts: np.ndarray) -> np.ndarray:
    """Microseconds since the epoch -> 'YYYY-MM-DDTHH:MM:SS.ffffff' (26 bytes a row), from
    tables: the date, the time of day to the second, then the microseconds in two halves."""
    day, in_day = np.divmod(ts, DAY_US)
    first = int(day.min())
    dates = [(_EPOCH + timedelta(days=d)).strftime("%Y-%m-%dT") for d in range(first, int(day.max()) + 1)]
    seconds, micros = np.divmod(in_day, US)
    out = np.empty((len(ts), 26), dtype=np.uint8)
    item_view(out, 0, 11)[...] = fixed_texts(dates, 11)[day - first]
    item_view(out, 11, 8)[...] = _CLOCK[seconds]
    item_view(out, 19, 4)[...] = _MILLIS[micros // 1000]
    item_view(out, 23, 3)[...] = _THOUSANDTHS[micros % 1000]
    return out


def item_view(matrix: np.ndarray, at: int, width: int) -> np.ndarray:
    """Bytes [at, at + width) of every row of a (rows, w) uint8 matrix, as one item per row:
    writing it copies one item per row rather than looping over bytes."""
    item = np.dtype({"names": ["v"], "formats": [f"V{width}"], "offsets": [at], "itemsize": matrix.shape[1]})
    return matrix.view(item).reshape(-1)["v"]


def as_items(block: np.ndarray) -> np.ndarray:
    """(rows, width) uint8 -> one V<width> item per row."""
    return np.ascontiguousarray(block).view(f"V{block.shape[1]}").reshape(-1)
