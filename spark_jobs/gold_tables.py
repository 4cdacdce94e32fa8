"""The gold table registry: every gold table declared once, with what the rest of AdLake
derives from it. Pure Python (no Spark, Dagster or dbt import).

From a declaration follow: the Delta table gold/<name> and the Spark function that
computes it (spark_jobs/gold.py BUILDERS), the Dagster asset gold_<name> with its
description, the `reconciles_with_silver` check (the daily table) or the
`adds_up_to_daily` check (a table that declares it rolls up to campaign_daily), the
silver -> gold link of the chain check, the row counts of the summary, and the dbt source
gold.<name> that the marts read (tests check each). docs/adding-a-gold-table.md walks
through adding one."""

from __future__ import annotations

from dataclasses import dataclass

from spark_jobs.layers import EVENT_DATE, GOLD, date_column
from spark_jobs.metric_definitions import ADDITIVE_METRICS


@dataclass(frozen=True)
class GoldTable:
    name: str  # Delta table gold/<name>, Dagster asset gold_<name>, dbt source gold.<name>
    grain: tuple[str, ...]  # the key columns: one row per combination of their values
    description: str  # shown on the Dagster asset
    # Per event date, each of `metrics` sums to campaign_daily's (the same traffic, cut
    # another way): declared tables get the blocking `adds_up_to_daily` check.
    adds_up_to_daily: bool = False
    metrics: tuple[str, ...] = ADDITIVE_METRICS  # its additive metric columns
    date_column: str = EVENT_DATE  # its partition column; a window rewrites its event dates


# The reference table: reconciled with silver; the tables that add up to it are checked
# against it.
DAILY = "campaign_daily"

GOLD_TABLES: dict[str, GoldTable] = {
    t.name: t
    for t in (
        GoldTable(
            DAILY,
            grain=(EVENT_DATE, "advertiser_id", "campaign_id"),
            description="Per event date and campaign: impressions, clicks, spend, last-click "
            "conversions and revenue, CTR, CVR, CPC, CPM, ROAS (valid traffic only).",
        ),
        GoldTable(
            "campaign_hourly",
            grain=(EVENT_DATE, "event_hour", "advertiser_id", "campaign_id"),
            description="The same metrics per event date, hour and campaign.",
            adds_up_to_daily=True,
        ),
        GoldTable(
            "publisher_daily",
            grain=(EVENT_DATE, "publisher_id", "channel"),
            description="Per event date, publisher and channel: the same metrics (clicks and "
            "conversions credited to the publisher of the impression clicked) and unique_users.",
            adds_up_to_daily=True,
        ),
        GoldTable(
            "attribution",
            grain=(EVENT_DATE, "order_id", "model", "touch_event_id"),
            description="One row per conversion, touch and attribution model (first_click, last_click, "
            "linear, time_decay, position_based, markov, shapley): credit, credited revenue, touch "
            "type (click or view), position, channel, campaign; a conversion with no touch is one row "
            "of model 'none'. Dated by the conversion (docs/attribution.md).",
            metrics=(),
        ),
        GoldTable(
            "attribution_campaign_daily",
            grain=(EVENT_DATE, "advertiser_id", "campaign_id", "model"),
            description="Per event date, campaign and attribution model: credited conversions and "
            "revenue, the campaign's spend, ROAS. Model 'none' (campaign null): unattributed conversions.",
            metrics=(),
        ),
        GoldTable(
            "conversion_paths",
            grain=(EVENT_DATE, "advertiser_id", "path"),
            description="Per event date, advertiser and channel path ('display > search'): conversions, "
            "revenue, and the journeys with that path that did not convert (the Markov model's input).",
            metrics=(),
        ),
        GoldTable(
            "auction_daily",
            grain=(EVENT_DATE, "publisher_id", "placement_id", "channel", "campaign_id"),
            description="Per event date (of the bid request), publisher, placement and campaign: bids, "
            "wins, win rate, bid rate, average bid and clearing price, bid shading, losses by OpenRTB "
            "reason, and the impressions served from the wins (docs/auctions.md).",
            metrics=(),
        ),
        GoldTable(
            "bid_landscape",
            grain=(EVENT_DATE, "channel", "ad_format", "bid_bucket_cpm"),
            description="Per event date, channel, ad format and bid price bucket (0.5 CPM wide): bids, "
            "wins, win rate, average clearing price: how the chance to win grows with the bid.",
            metrics=(),
        ),
    )
}

# The tables that must add up to DAILY per event date, in registry order.
ROLLUPS: tuple[GoldTable, ...] = tuple(t for t in GOLD_TABLES.values() if t.adds_up_to_daily)


def validate(tables: dict[str, GoldTable]) -> None:
    """Raise ValueError when a declaration breaks what the checks and writers assume."""
    if DAILY not in tables or tables[DAILY].adds_up_to_daily:
        raise ValueError(f"the registry needs {DAILY!r}, the table the others add up to (not to itself)")
    for name, t in tables.items():
        problems = []
        if name != t.name:
            problems.append(f"registered as {name!r}")
        if t.date_column != date_column(GOLD):
            # Partition runs rewrite event dates (spark_jobs.layers.ArrivalWindow.dates).
            problems.append(f"date column {t.date_column!r} is not gold's {date_column(GOLD)!r}")
        if t.date_column not in t.grain:
            problems.append("its date column is not part of its grain")
        if extra := set(t.metrics) - set(ADDITIVE_METRICS):
            problems.append(f"non-additive metrics {sorted(extra)}")
        if t.adds_up_to_daily and (missing := set(t.metrics) - set(tables[DAILY].metrics)):
            problems.append(f"adds up to {DAILY}, which has no {sorted(missing)}")
        if problems:
            raise ValueError(f"gold table {t.name!r}: " + "; ".join(problems))


validate(GOLD_TABLES)
