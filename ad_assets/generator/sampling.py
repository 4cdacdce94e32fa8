"""Faster equivalents of numpy Generator calls: the same draws from the stream and the same
results, bit for bit (the generated files depend on both), in less time."""

from __future__ import annotations

import sys

import numpy as np

_GUIDE_MARGIN = 3  # buckets either side of a value's own: covers rounding at bucket edges
_BATCH = 1 << 16


class WeightedChoice:
    """`rng.choice(len(p), size, p=p)` (with replacement). numpy draws `rng.random(size)`
    and binary-searches each value in the normalised cumulative weights; over millions of
    weights every search is a chain of cache misses. Here a guide table (how many
    cumulative weights lie below each of `buckets` evenly spaced values) narrows each value
    to a few candidates first, and the search runs over all values at once, step by step."""

    def __init__(self, p: np.ndarray, buckets: int | None = None) -> None:
        # As numpy computes it: cumsum of p as float64, divided by its last element.
        cdf = np.ascontiguousarray(p, dtype=np.float64).cumsum()
        cdf /= cdf[-1]
        self.cdf = cdf
        # Enough buckets that a window holds a handful of weights (small tables: 64 Ki
        # buckets, whose guide stays in cache).
        self.buckets = buckets or max(2 * len(cdf), 1 << 16)
        # guide[j]: how many weights lie below bucket j, give or take the weights within
        # rounding of a bucket edge (the search window's margin covers those).
        per_bucket = np.bincount(
            np.minimum(cdf * self.buckets, self.buckets).astype(np.int64), minlength=self.buckets + 1
        )
        self.guide = np.concatenate([[0], np.cumsum(per_bucket)])
        lo, hi = self._window(np.arange(self.buckets + 1))
        self.steps = int(np.ceil(np.log2(int((hi - lo).max()) + 1)))

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        u = rng.random(size)
        flat = u.reshape(-1)
        out = np.empty(len(flat), dtype=np.int64)
        for a in range(0, len(flat), _BATCH):  # batches: the temporaries stay in cache
            out[a : a + _BATCH] = self._search(flat[a : a + _BATCH])
        return out.reshape(u.shape)

    def _search(self, u: np.ndarray) -> np.ndarray:
        """How many cumulative weights are <= u (numpy's searchsorted, side='right')."""
        bucket = np.minimum((u * self.buckets).astype(np.int64), self.buckets)
        lo, hi = self._window(bucket)
        last = len(self.cdf) - 1
        for _ in range(self.steps):  # the count lies in [lo, hi]: halve the range
            mid = (lo + hi) >> 1
            below = self.cdf[np.minimum(mid, last)] <= u
            lo = np.where(below & (lo < hi), mid + 1, lo)
            hi = np.where(below, hi, mid)
        return lo

    def _window(self, bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = self.guide[np.maximum(bucket - _GUIDE_MARGIN, 0)]
        hi = self.guide[np.minimum(bucket + _GUIDE_MARGIN + 1, self.buckets + 1)]
        return lo, hi


def random_bytes(rng: np.random.Generator, length: int) -> np.ndarray:
    """`rng.bytes(length)` as a uint8 array, without its copies: numpy draws
    ceil(length / 4) uint32 and takes their little-endian bytes."""
    if sys.byteorder != "little" or length == 0:  # numpy draws one word even for no bytes
        return np.frombuffer(rng.bytes(length), dtype=np.uint8)
    words = rng.integers(0, 4294967296, size=(length - 1) // 4 + 1, dtype=np.uint32)
    return words.view(np.uint8)[:length]
