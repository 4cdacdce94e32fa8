"""The metric definitions of docs/metrics.md, as data: the columns that add up across
rows, money in currency units from integer micros, and the ratios. Pure Python (no
Spark, Dagster or dbt import), so every engine derives its metrics from the same lists:
Spark (gold.py, metrics.py), the checks (reconcile.py, the chain check), the summary
(pyarrow) and the tests import them; the dbt macros read the same lists from
dbt_project.yml's vars, and tests/unit/test_dbt_definitions.py fails when the two disagree."""

from __future__ import annotations

from collections.abc import Mapping

MICROS = 1_000_000

# Counted events per group of a gold table's keys.
COUNT_METRICS: tuple[str, ...] = ("impressions", "clicks", "conversions")
# Money: currency column -> the integer micros column it is derived from (exact sums).
MONEY_METRICS: dict[str, str] = {"spend": "spend_micros", "revenue": "revenue_micros"}
# What adds up across rows (hours into days, publishers into channels): counts and micros,
# never ratios. Also the order of these columns in every gold table.
ADDITIVE_METRICS: tuple[str, ...] = (*COUNT_METRICS, *MONEY_METRICS.values())

# name -> (numerator, denominator, scale): numerator x scale / denominator, null where the
# divisor is 0. Recomputed from sums, never averaged.
RATIOS: dict[str, tuple[str, str, float]] = {
    "ctr": ("clicks", "impressions", 1.0),
    "cvr": ("conversions", "clicks", 1.0),
    "cpc": ("spend", "clicks", 1.0),
    "cpm": ("spend", "impressions", 1000.0),
    "roas": ("revenue", "spend", 1.0),
}


def ratio(values: Mapping[str, float | int | None], name: str) -> float | None:
    """One ratio of RATIOS over plain values (a missing or zero divisor gives None)."""
    num, den, scale = RATIOS[name]
    divisor = values.get(den) or 0
    return None if divisor == 0 else values[num] * scale / divisor


def money_and_ratios(sums: Mapping[str, int]) -> dict[str, float | int | None]:
    """The additive sums plus money (currency units) and every ratio, in plain Python:
    what a gold or mart row holds for those sums."""
    values: dict[str, float | int | None] = dict(sums)
    for money, micros in MONEY_METRICS.items():
        values[money] = sums[micros] / MICROS
    for name in RATIOS:
        values[name] = ratio(values, name)
    return values
