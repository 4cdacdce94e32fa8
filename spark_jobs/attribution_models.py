"""Data-driven multi-touch attribution over the channel paths of one day.

Rule-based models (last touch, linear) fix the credit split up front; these two learn it
from which paths convert. Markov: a channel's credit is how much of the conversion
probability is lost when it is removed from the journey graph. Shapley: a channel's credit
is its average marginal gain in conversion rate over every order of joining a coalition.
Pure Python and numpy, so the maths is tested without a SparkSession; the jobs feed it the
aggregated paths (a few thousand distinct sequences), not the raw touches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from math import factorial

import numpy as np

DATA_DRIVEN_MODELS = ("markov", "shapley")


@dataclass(frozen=True)
class PathCount:
    """Journeys with one exact ordered sequence of channel touches, by outcome."""

    channels: tuple[str, ...]
    conversions: int
    non_conversions: int

    def __post_init__(self) -> None:
        # A list would make the record unhashable and break the per-sequence merge.
        object.__setattr__(self, "channels", tuple(self.channels))
        if not self.channels:
            raise ValueError("a path needs at least one channel")
        if self.conversions < 0 or self.non_conversions < 0:
            raise ValueError(f"negative journey count in {self}")


# Either records or a mapping channels -> (conversions, non_conversions).
Paths = Iterable[PathCount] | Mapping[tuple[str, ...], tuple[int, int]]


def _records(paths: Paths) -> list[PathCount]:
    """The paths as records, one per distinct sequence (repeated sequences are summed)."""
    if isinstance(paths, Mapping):
        items = [PathCount(tuple(ch), int(c), int(n)) for ch, (c, n) in paths.items()]
    else:
        items = list(paths)
    merged: dict[tuple[str, ...], tuple[int, int]] = {}
    for p in items:
        c, n = merged.get(p.channels, (0, 0))
        merged[p.channels] = (c + p.conversions, n + p.non_conversions)
    return [PathCount(ch, c, n) for ch, (c, n) in merged.items()]


def _conversion_probability(q: np.ndarray, r: np.ndarray, keep: list[int]) -> float:
    """Probability of absorbing in CONVERSION from START (index 0) over the kept transient
    states; mass flowing into a dropped state is lost, i.e. goes to NULL."""
    sub_q = q[np.ix_(keep, keep)]
    x = np.linalg.solve(np.eye(len(keep)) - sub_q, r[keep])
    return float(x[0])


def markov_removal_effects(paths: Paths) -> dict[str, float]:
    """Removal effect 1 - P(conv without c) / P(conv) of every channel, from a first-order
    Markov chain START -> channels -> CONVERSION | NULL solved exactly (absorbing chain)."""
    records = _records(paths)
    channels = sorted({c for p in records for c in p.channels})
    index = {c: i + 1 for i, c in enumerate(channels)}  # 0 is START
    size = len(channels) + 1
    counts = np.zeros((size, size))  # transient -> transient
    to_conv = np.zeros(size)
    to_null = np.zeros(size)
    for p in records:
        weight = p.conversions + p.non_conversions
        states = [0] + [index[c] for c in p.channels]
        for a, b in pairwise(states):
            counts[a, b] += weight
        to_conv[states[-1]] += p.conversions
        to_null[states[-1]] += p.non_conversions
    totals = counts.sum(axis=1) + to_conv + to_null
    # A state never left (only on zero-count paths) keeps a zero row: it never absorbs.
    safe = np.where(totals > 0, totals, 1.0)
    q, r = counts / safe[:, None], to_conv / safe

    everything = list(range(size))
    p_full = _conversion_probability(q, r, everything)
    if p_full <= 0.0:
        return dict.fromkeys(channels, 0.0)
    return {
        c: 1.0 - _conversion_probability(q, r, [i for i in everything if i != index[c]]) / p_full
        for c in channels
    }


def shapley_values(
    players: Sequence[str],
    worth: Callable[[frozenset[str]], float],
    *,
    exact_up_to: int = 10,
    samples: int = 2000,
    seed: int = 0,
) -> dict[str, float]:
    """Shapley value of each player: exact over all subsets for small games (2^n worth
    calls), else the mean marginal contribution over `samples` seeded random orders."""
    players = list(players)
    if len(set(players)) != len(players):
        raise ValueError(f"players must be distinct: {players}")
    n = len(players)
    cache: dict[frozenset[str], float] = {}

    def v(coalition: frozenset[str]) -> float:
        if coalition not in cache:
            cache[coalition] = float(worth(coalition))
        return cache[coalition]

    if n <= exact_up_to:
        weights = [factorial(k) * factorial(n - k - 1) / factorial(n) for k in range(n)]
        values = {}
        for p in players:
            others = [o for o in players if o != p]
            values[p] = sum(
                weights[k] * (v(frozenset((*s, p))) - v(frozenset(s)))
                for k in range(n)
                for s in combinations(others, k)
            )
        return values

    if samples < 1:
        raise ValueError("samples must be at least 1")
    rng = np.random.default_rng(seed)
    totals = dict.fromkeys(players, 0.0)
    for _ in range(samples):
        coalition: frozenset[str] = frozenset()
        before = v(coalition)
        for i in rng.permutation(n):
            coalition = coalition | {players[i]}
            after = v(coalition)
            totals[players[i]] += after - before
            before = after
    return {p: t / samples for p, t in totals.items()}


def conversion_rate_worth(paths: Paths) -> Callable[[frozenset[str]], float]:
    """v(S): conversion rate of the journeys that only touched channels in S (0 if none),
    so a coalition is worth what its channels achieve on their own."""
    by_set: dict[frozenset[str], tuple[int, int]] = {}
    for p in _records(paths):
        c, t = by_set.get(frozenset(p.channels), (0, 0))
        by_set[frozenset(p.channels)] = (c + p.conversions, t + p.conversions + p.non_conversions)

    def worth(coalition: frozenset[str]) -> float:
        conv = total = 0
        for channel_set, (c, t) in by_set.items():
            if channel_set <= coalition:
                conv, total = conv + c, total + t
        return conv / total if total else 0.0

    return worth


def _normalised(values: dict[str, float]) -> dict[str, float]:
    """Shares from raw credits: negatives clipped to 0; equal split if nothing is left."""
    clipped = {c: max(0.0, v) for c, v in values.items()}
    total = sum(clipped.values())
    if len(clipped) == 1 or total <= 0.0:
        return dict.fromkeys(clipped, 1.0 / len(clipped))
    return {c: v / total for c, v in clipped.items()}


def path_shares(paths: Paths, model: str) -> dict[tuple[str, ...], dict[str, float]]:
    """Share of each converting path's credit per distinct channel in it, under `model`."""
    if model not in DATA_DRIVEN_MODELS:
        raise ValueError(f"unknown attribution model {model!r}; expected one of {DATA_DRIVEN_MODELS}")
    records = _records(paths)
    converting = [p for p in records if p.conversions > 0]
    if model == "markov":
        effects = markov_removal_effects(records)
        return {
            p.channels: _normalised({c: effects[c] for c in dict.fromkeys(p.channels)}) for p in converting
        }

    worth = conversion_rate_worth(records)
    by_set: dict[frozenset[str], dict[str, float]] = {}  # paths with one channel set share it
    shares = {}
    for p in converting:
        key = frozenset(p.channels)
        if key not in by_set:
            by_set[key] = shapley_values(sorted(key), worth)  # sorted: seeded MC is reproducible
        shares[p.channels] = _normalised({c: by_set[key][c] for c in dict.fromkeys(p.channels)})
    return shares
