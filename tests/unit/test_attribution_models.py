"""Data-driven attribution: expected values are worked by hand (in the comments) or by
brute force over every permutation, never by calling the code under test twice."""

from __future__ import annotations

import itertools
import random

import pytest

from spark_jobs.attribution_models import (
    DATA_DRIVEN_MODELS,
    PathCount,
    _normalised,
    conversion_rate_worth,
    markov_removal_effects,
    path_shares,
    shapley_values,
)


def brute_force_shapley(players: list[str], worth) -> dict[str, float]:
    """Mean marginal contribution over every order of joining."""
    totals = dict.fromkeys(players, 0.0)
    orders = list(itertools.permutations(players))
    for order in orders:
        coalition: frozenset[str] = frozenset()
        for p in order:
            totals[p] += worth(coalition | {p}) - worth(coalition)
            coalition = coalition | {p}
    return {p: t / len(orders) for p, t in totals.items()}


def random_game(players: list[str], seed: int) -> dict[frozenset[str], float]:
    """An arbitrary non-additive worth table, with v(empty) != 0 to check efficiency."""
    rng = random.Random(seed)
    return {
        frozenset(s): rng.uniform(-1.0, 3.0)
        for k in range(len(players) + 1)
        for s in itertools.combinations(players, k)
    }


# --- Markov ---------------------------------------------------------------------------


def test_markov_hand_worked():
    # Transitions: START->a 2, START->b 1; a->b 1, a->NULL 1; b->CONV 2.
    # P_full = 2/3 * 1/2 * 1 + 1/3 * 1 = 2/3.
    # Without a: START->a goes to NULL, P = 1/3 -> effect 1 - (1/3)/(2/3) = 1/2.
    # Without b: every conversion passes through b, P = 0 -> effect 1.
    paths = [PathCount(("a", "b"), 1, 0), PathCount(("a",), 0, 1), PathCount(("b",), 1, 0)]
    assert markov_removal_effects(paths) == {"a": pytest.approx(0.5), "b": pytest.approx(1.0)}


def test_markov_cycle_needs_the_linear_solve():
    # Transitions: START->a 1, START->b 1; a->b 1, a->CONV 1; b->a 1, b->NULL 1.
    # x_a = 1/2 + 1/2 x_b, x_b = 1/2 x_a  =>  x_a = 2/3, x_b = 1/3; P_full = 1/2.
    # Without a: x_b = 0, P = 0 -> effect 1.  Without b: x_a = 1/2, P = 1/4 -> effect 1/2.
    paths = {("a", "b", "a"): (1, 0), ("b",): (0, 1)}
    assert markov_removal_effects(paths) == {"a": pytest.approx(1.0), "b": pytest.approx(0.5)}


def test_markov_self_loop():
    # START->a 2; a->a 1, a->CONV 1, a->NULL 1: x_a = 1/3 x_a + 1/3 => x_a = 1/2 = P_full.
    # Without a: P = 0 -> effect 1.
    assert markov_removal_effects({("a", "a"): (1, 0), ("a",): (0, 1)}) == {"a": pytest.approx(1.0)}


def test_markov_channel_only_on_non_converting_dead_ends_has_no_effect():
    # START->a 2, START->b 1; a->b 1, a->CONV 1; b->NULL 2. b only ever leads to NULL, so
    # redirecting it to NULL changes nothing: P_full = 2/3 * 1/2 = 1/3 either way.
    paths = {("a", "b"): (0, 1), ("a",): (1, 0), ("b",): (0, 1)}
    effects = markov_removal_effects(paths)
    assert effects["b"] == pytest.approx(0.0, abs=1e-12)
    assert effects["a"] == pytest.approx(1.0)


def test_markov_no_conversions_gives_zeros():
    assert markov_removal_effects({("a", "b"): (0, 5), ("c",): (0, 1)}) == {"a": 0.0, "b": 0.0, "c": 0.0}


def test_markov_merges_repeated_sequences():
    split = [PathCount(("a", "b"), 1, 0), PathCount(("a", "b"), 0, 1), PathCount(("b",), 1, 0)]
    # Same as {("a","b"): 1 conv 1 non, ("b",): 1 conv}: START->a 2, START->b 1; a->b 2;
    # b->CONV 2, b->NULL 1. P_full = 2/3 * 2/3 + 1/3 * 2/3 = 2/3.
    # Without a: 1/3 * 2/3 = 2/9 -> effect 1 - (2/9)/(2/3) = 2/3. Without b: 0 -> effect 1.
    effects = markov_removal_effects(split)
    assert effects == {"a": pytest.approx(2 / 3), "b": pytest.approx(1.0)}


def test_empty_path_and_negative_counts_are_rejected():
    with pytest.raises(ValueError):
        PathCount((), 1, 0)
    with pytest.raises(ValueError):
        markov_removal_effects({(): (1, 0)})
    with pytest.raises(ValueError):
        PathCount(("a",), -1, 0)


# --- Shapley --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 5])
def test_shapley_exact_matches_brute_force(n):
    players = [f"p{i}" for i in range(n)]
    table = random_game(players, seed=n)
    values = shapley_values(players, table.__getitem__)
    expected = brute_force_shapley(players, table.__getitem__)
    assert values == {p: pytest.approx(expected[p], abs=1e-12) for p in players}
    # Efficiency: the values share out exactly what the grand coalition adds.
    assert sum(values.values()) == pytest.approx(table[frozenset(players)] - table[frozenset()])


def test_shapley_caches_worth_per_subset():
    players = ["a", "b", "c", "d"]
    table = random_game(players, seed=1)
    calls: list[frozenset[str]] = []

    def worth(s: frozenset[str]) -> float:
        calls.append(s)
        return table[s]

    shapley_values(players, worth)
    assert len(calls) == len(set(calls)) == 2 ** len(players)


def test_shapley_monte_carlo_close_to_exact_and_deterministic():
    players = ["a", "b", "c", "d", "e"]
    table = random_game(players, seed=7)
    exact = brute_force_shapley(players, table.__getitem__)
    mc = shapley_values(players, table.__getitem__, exact_up_to=2, samples=2000, seed=3)
    # Worths span [-1, 3]: a marginal's std is about 1.6, so the standard error of a mean
    # over 2000 orders is about 0.04; allow four of them.
    assert mc == {p: pytest.approx(exact[p], abs=0.15) for p in players}
    assert shapley_values(players, table.__getitem__, exact_up_to=2, samples=2000, seed=3) == mc
    assert shapley_values(players, table.__getitem__, exact_up_to=2, samples=2000, seed=4) != mc


def test_shapley_monte_carlo_twelve_players():
    players = [f"p{i}" for i in range(12)]

    def worth(s: frozenset[str]) -> float:  # non-additive: grows with the square of size
        return (len(s) / 12) ** 2 + (0.5 if {"p0", "p1"} <= s else 0.0)

    values = shapley_values(players, worth, samples=300, seed=0)
    assert set(values) == set(players)
    assert sum(values.values()) == pytest.approx(worth(frozenset(players)))
    # p0 and p1 share the synergy bonus: about 1/12 + 0.25 each, the others about 1/12.
    assert values["p0"] == pytest.approx(1 / 12 + 0.25, abs=0.05)
    assert values["p5"] == pytest.approx(1 / 12, abs=0.05)


def test_shapley_rejects_duplicate_players_and_handles_none():
    with pytest.raises(ValueError):
        shapley_values(["a", "a"], lambda s: 0.0)
    assert shapley_values([], lambda s: 0.0) == {}


# --- conversion_rate_worth ------------------------------------------------------------

WORTH_PATHS = {
    ("a",): (1, 3),
    ("b",): (2, 2),
    ("a", "b"): (3, 1),
    ("a", "b", "b"): (1, 1),  # channel set {a, b}, like the path above
}


def test_conversion_rate_worth_by_hand():
    v = conversion_rate_worth(WORTH_PATHS)
    assert v(frozenset()) == 0.0
    assert v(frozenset({"a"})) == pytest.approx(1 / 4)
    assert v(frozenset({"b"})) == pytest.approx(2 / 4)
    # All four sequences: (1 + 2 + 3 + 1) / (4 + 4 + 4 + 2) = 7 / 14.
    assert v(frozenset({"a", "b"})) == pytest.approx(0.5)
    assert v(frozenset({"c"})) == 0.0  # no journey only on c
    assert v(frozenset({"a", "c"})) == pytest.approx(1 / 4)


# --- path_shares ----------------------------------------------------------------------


@pytest.mark.parametrize("model", DATA_DRIVEN_MODELS)
def test_path_shares_sum_to_one_and_skip_non_converting(model):
    rng = random.Random(11)
    channels = ["display", "search", "social", "email", "video"]
    paths = {}
    for _ in range(40):
        seq = tuple(rng.choice(channels) for _ in range(rng.randint(1, 5)))
        paths[seq] = (rng.choice([0, 0, 1, 3]), rng.randint(0, 6))
    paths[("email", "email")] = (0, 9)  # only non-converting
    shares = path_shares(paths, model)
    assert set(shares) == {seq for seq, (c, _) in paths.items() if c > 0}
    for seq, s in shares.items():
        assert set(s) == set(seq)
        assert sum(s.values()) == pytest.approx(1.0, abs=1e-9)
        assert all(x >= 0.0 for x in s.values())


def test_path_shares_markov_by_hand():
    # Removal effects from test_markov_hand_worked: a 1/2, b 1 -> (a, b) splits 1/3, 2/3.
    paths = [PathCount(("a", "b"), 1, 0), PathCount(("a",), 0, 1), PathCount(("b",), 1, 0)]
    assert path_shares(paths, "markov") == {
        ("a", "b"): {"a": pytest.approx(1 / 3), "b": pytest.approx(2 / 3)},
        ("b",): {"b": 1.0},
    }


def test_path_shares_shapley_by_hand():
    # v from test_conversion_rate_worth_by_hand: v(a) = 1/4, v(b) = 1/2, v(ab) = 1/2.
    # phi_a = 1/2 * (1/4 - 0) + 1/2 * (1/2 - 1/2) = 1/8; phi_b = 1/2 * 1/2 + 1/2 * 1/4 = 3/8.
    shares = path_shares(WORTH_PATHS, "shapley")
    expected = {"a": pytest.approx(0.25), "b": pytest.approx(0.75)}
    assert shares[("a", "b")] == expected
    assert shares[("a", "b", "b")] == expected  # same channel set, same split
    assert shares[("a",)] == {"a": 1.0}


def test_path_shares_shapley_clips_negative_values():
    # v(a) = 9/10, v(b) = 1/10, v(ab) = (9 + 1 + 1) / (10 + 10 + 35) = 0.2.
    # phi_b = 1/2 * 0.1 + 1/2 * (0.2 - 0.9) = -0.3 < 0 -> clipped, a gets everything.
    paths = {("a",): (9, 1), ("b",): (1, 9), ("a", "b"): (1, 34)}
    assert path_shares(paths, "shapley")[("a", "b")] == {"a": 1.0, "b": 0.0}


@pytest.mark.parametrize("model", DATA_DRIVEN_MODELS)
def test_path_shares_single_channel_and_symmetric_ties(model):
    # a and b play mirrored roles: same worth alone, same removal effect.
    paths = {("a", "b"): (1, 1), ("b", "a"): (1, 1), ("a",): (1, 1), ("b",): (1, 1), ("c", "c"): (2, 0)}
    shares = path_shares(paths, model)
    assert shares[("a", "b")] == {"a": pytest.approx(0.5), "b": pytest.approx(0.5)}
    assert shares[("b", "a")] == {"a": pytest.approx(0.5), "b": pytest.approx(0.5)}
    assert shares[("a",)] == {"a": 1.0}
    assert shares[("c", "c")] == {"c": 1.0}


def test_path_shares_unknown_model():
    with pytest.raises(ValueError, match="unknown attribution model"):
        path_shares({("a",): (1, 0)}, "last_touch")


def test_normalised_falls_back_to_equal_split():
    assert _normalised({"a": 0.0, "b": -1.0}) == {"a": 0.5, "b": 0.5}
    assert _normalised({"a": -2.0}) == {"a": 1.0}
    assert _normalised({"a": 3.0, "b": -1.0, "c": 1.0}) == {"a": 0.75, "b": 0.0, "c": 0.25}
