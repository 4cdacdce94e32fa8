"""The gold table registry (spark_jobs/gold_tables.py) and what is derived from it, checked
without Spark or a dbt run: each table has its Spark function, its Dagster asset with the
checks its declaration asks for, and a dbt source the marts can read."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from ad_assets.defs.audiences import AUDIENCE_KEYS
from ad_assets.defs.gold import ADDS_UP, GOLD_KEYS, build_gold_tables
from ad_assets.lib.partitions import daily_partitions
from ad_assets.settings import DEFAULT_START_DATE
from spark_jobs import gold
from spark_jobs.gold_tables import DAILY, GOLD_TABLES, ROLLUPS, validate
from spark_jobs.segment_rules import USER_ACTIVITY, USER_SEGMENTS

DBT = Path(__file__).resolve().parents[2] / "dbt_project"


def _gold_sources() -> dict[str, dict]:
    doc = yaml.safe_load((DBT / "models" / "staging" / "_gold__sources.yml").read_text())
    (source,) = [s for s in doc["sources"] if s["name"] == "gold"]
    return {t["name"]: t for t in source["tables"]}


def test_every_gold_table_has_one_spark_function():
    assert gold.BUILDERS.keys() == GOLD_TABLES.keys()
    # Written first (their cached frames feed the others): hourly metrics, credits, bids.
    first = {"campaign_hourly", "attribution", "auction_daily"}
    assert set(gold.WRITTEN_FIRST) == first <= gold.BUILDERS.keys()


def test_every_gold_table_is_a_dbt_source_mapped_to_its_asset():
    """The registry's tables, and the audience tables the segment mart reads (the segment
    history is not a source: no mart reads it)."""
    sources = _gold_sources()
    keys = {**GOLD_KEYS, **{n: AUDIENCE_KEYS[n] for n in (USER_ACTIVITY, USER_SEGMENTS)}}
    assert sources.keys() == keys.keys()
    for name, table in sources.items():
        assert table["meta"]["dagster"]["asset_key"] == keys[name].path, name


def test_the_gold_asset_and_its_checks_follow_the_declarations():
    gold_tables = build_gold_tables(daily_partitions(DEFAULT_START_DATE))
    assert set(gold_tables.keys) == set(GOLD_KEYS.values())
    for name, key in GOLD_KEYS.items():
        assert gold_tables.specs_by_key[key].description == GOLD_TABLES[name].description
    checks = {(spec.asset_key, spec.name) for spec in gold_tables.check_specs}
    assert {key for key, name in checks if name == ADDS_UP} == {GOLD_KEYS[t.name] for t in ROLLUPS}
    assert (GOLD_KEYS[DAILY], "reconciles_with_silver") in checks
    assert {t.name for t in ROLLUPS} == {"campaign_hourly", "publisher_daily"}


def test_declarations_that_break_the_checks_assumptions_are_refused():
    daily = GOLD_TABLES[DAILY]
    with pytest.raises(ValueError, match="the registry needs 'campaign_daily'"):
        validate({"campaign_hourly": GOLD_TABLES["campaign_hourly"]})
    with pytest.raises(ValueError, match="not to itself"):
        validate({DAILY: replace(daily, adds_up_to_daily=True)})
    odd = replace(daily, name="odd", grain=("advertiser_id",), metrics=("ctr",), adds_up_to_daily=True)
    with pytest.raises(ValueError, match="date column is not part of its grain; non-additive metrics"):
        validate({DAILY: daily, "odd": odd})
