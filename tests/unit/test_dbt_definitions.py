"""The dbt project's copies of the Python definitions agree with them: pure Python over
dbt_project.yml and the macros' text (no dbt run, no Spark). A metric, ratio or channel
changed on one side only fails here instead of as a wrong number in a mart."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ad_assets.settings import load_settings
from spark_jobs.attribution import MODELS
from spark_jobs.contracts import CHANNELS
from spark_jobs.metric_definitions import ADDITIVE_METRICS, MICROS, MONEY_METRICS, RATIOS
from spark_jobs.segment_rules import SEGMENTS

DBT = Path(__file__).resolve().parents[2] / "dbt_project"
DBT_VARS = yaml.safe_load((DBT / "dbt_project.yml").read_text())["vars"]


def _jinja_code(path: Path) -> str:
    """A dbt file without its Jinja comments (which may name columns freely)."""
    return re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)


def test_dbt_metric_vars_are_the_python_definitions():
    assert DBT_VARS["additive_metrics"] == list(ADDITIVE_METRICS)
    assert DBT_VARS["money_metrics"] == MONEY_METRICS
    assert {name: tuple(v) for name, v in DBT_VARS["metric_ratios"].items()} == RATIOS
    assert list(DBT_VARS["metric_ratios"]) == list(RATIOS)  # same column order in the marts


def test_the_metric_macros_read_the_vars_and_list_no_metric_themselves():
    code = _jinja_code(DBT / "macros" / "metrics.sql")
    for name in ("additive_metrics", "money_metrics", "metric_ratios"):
        assert f"var('{name}')" in code, name
    for column in (*ADDITIVE_METRICS, *MONEY_METRICS, *RATIOS):
        assert not re.search(rf"\b{column}\b", code), f"macros/metrics.sql names {column} itself"
    (divisor,) = set(re.findall(r"/ (\S+) AS", code))
    assert float(divisor) == MICROS


def test_the_marts_reconciliation_test_sums_every_additive_metric():
    code = _jinja_code(DBT / "tests" / "assert_campaign_daily_reconciles_with_gold.sql")
    assert "additive_sums()" in code and "metric_counts()" in code
    assert "sum(" not in code  # no hand-written list of sums to fall behind


def test_dbt_channel_vocabulary_is_the_contracts():
    assert DBT_VARS["channels"] == list(CHANNELS)


def test_dbt_attribution_models_are_the_python_ones():
    assert DBT_VARS["attribution_models"] == list(MODELS)


def test_dbt_segments_are_the_python_ones():
    assert DBT_VARS["segments"] == list(SEGMENTS)


def test_dbt_privacy_floor_is_the_settings_default():
    assert DBT_VARS["privacy_min_users"] == load_settings({}).privacy_min_users
