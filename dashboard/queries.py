"""The dashboard's SQL: ClickHouse SQL over the `marts` database, the same on the embedded
snapshot and on a server. Rollups sum the additive metrics and recompute every ratio from
the sums (spark_jobs/metric_definitions.py, never averaged), so a number on screen equals
the same rollup of the mart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from spark_jobs.metric_definitions import ADDITIVE_METRICS, MICROS, MONEY_METRICS, RATIOS

# KPI tiles, in display order: name -> format ("int", "money", "pct", "ratio").
KPIS: dict[str, str] = {
    "impressions": "int",
    "clicks": "int",
    "conversions": "int",
    "spend": "money",
    "revenue": "money",
    "ctr": "pct",
    "cvr": "pct",
    "cpc": "money",
    "cpm": "money",
    "roas": "ratio",
}
# Campaign -> channel: every campaign runs on one channel; attribution_models carries it.
CAMPAIGN_CHANNEL = (
    "(SELECT campaign_id, any(channel) AS channel FROM marts.attribution_models GROUP BY campaign_id)"
)


def quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def rollup_columns() -> str:
    """Sums of the additive metrics, money from the micros sums, ratios from the sums. As in
    the marts' macros, later expressions name the sums by their aliases (ClickHouse resolves
    an alias wherever it is used), so nothing is averaged."""
    sums = [f"sum({m}) AS {m}" for m in ADDITIVE_METRICS]
    money = [f"{micros} / {MICROS} AS {name}" for name, micros in MONEY_METRICS.items()]
    ratios = [
        f"if({den} = 0, NULL, {num} * {scale} / {den}) AS {name}"
        for name, (num, den, scale) in RATIOS.items()
    ]
    return ", ".join(sums + money + ratios)


@dataclass(frozen=True)
class Filters:
    """What the sidebar selects; empty tuples select everything."""

    start: date | None = None
    end: date | None = None
    advertisers: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()
    channels: tuple[str, ...] = field(default=())

    def where(self, date_column: str = "event_date", campaign_level: bool = True) -> str:
        """The WHERE clause for a mart with `date_column` (and advertiser/campaign columns
        when `campaign_level`); the channel filter goes through CAMPAIGN_CHANNEL."""
        parts = ["1"]
        if self.start:
            parts.append(f"{date_column} >= {quote(self.start.isoformat())}")
        if self.end:
            parts.append(f"{date_column} <= {quote(self.end.isoformat())}")
        if campaign_level:
            if self.advertisers:
                parts.append(f"advertiser_id IN ({', '.join(map(quote, self.advertisers))})")
            if self.campaigns:
                parts.append(f"campaign_id IN ({', '.join(map(quote, self.campaigns))})")
            if self.channels:
                parts.append(
                    f"campaign_id IN (SELECT campaign_id FROM {CAMPAIGN_CHANNEL} "
                    f"WHERE channel IN ({', '.join(map(quote, self.channels))}))"
                )
        return " AND ".join(parts)

    def channel_where(self, date_column: str = "event_date") -> str:
        """For channel-level marts: dates and channels (advertisers and campaigns do not apply)."""
        parts = [Filters(self.start, self.end).where(date_column, campaign_level=False)]
        if self.channels:
            parts.append(f"channel IN ({', '.join(map(quote, self.channels))})")
        return " AND ".join(parts)


def daily_totals(f: Filters) -> str:
    return (
        f"SELECT event_date, {rollup_columns()} FROM marts.campaign_daily "
        f"WHERE {f.where()} GROUP BY event_date ORDER BY event_date"
    )


def hourly_totals(f: Filters) -> str:
    return (
        f"SELECT event_hour_start, {rollup_columns()} FROM marts.campaign_hourly "
        f"WHERE {f.where()} GROUP BY event_hour_start ORDER BY event_hour_start"
    )


def campaign_totals(f: Filters) -> str:
    return (
        "SELECT c.campaign_id AS campaign_id, any(advertiser_id) AS advertiser_id, "
        f"any(ch.channel) AS channel, {rollup_columns()} FROM marts.campaign_daily AS c "
        f"LEFT JOIN {CAMPAIGN_CHANNEL} AS ch "
        f"ON c.campaign_id = ch.campaign_id WHERE {f.where()} GROUP BY c.campaign_id ORDER BY spend DESC"
    )


def channel_daily(f: Filters) -> str:
    return (
        f"SELECT event_date, channel, {rollup_columns()} FROM marts.channel_daily "
        f"WHERE {f.channel_where()} GROUP BY event_date, channel ORDER BY event_date, channel"
    )


def publisher_totals(f: Filters, limit: int = 25) -> str:
    return (
        f"SELECT publisher_id, any(channel) AS channel, max(unique_users) AS peak_daily_users, "
        f"{rollup_columns()} FROM marts.publisher_daily WHERE {f.channel_where()} "
        f"GROUP BY publisher_id ORDER BY spend DESC LIMIT {int(limit)}"
    )


def auction_by_channel(f: Filters) -> str:
    return (
        "SELECT channel, sum(bids) AS bids, sum(wins) AS wins, "
        "if(bids = 0, NULL, wins / bids) AS win_rate FROM marts.auction_insights "
        f"WHERE {f.channel_where()} GROUP BY channel ORDER BY bids DESC"
    )


def bid_landscape(f: Filters) -> str:
    return (
        "SELECT channel, bid_bucket_cpm, sum(bids) AS bids, sum(wins) AS wins, "
        "if(bids = 0, NULL, wins / bids) AS win_rate FROM marts.bid_landscape "
        f"WHERE {f.channel_where()} GROUP BY channel, bid_bucket_cpm ORDER BY channel, bid_bucket_cpm"
    )


def attribution_by_model(f: Filters, models: tuple[str, ...]) -> str:
    """Conversions and revenue credited by each model, over the filtered campaigns."""
    cols = ", ".join(
        f"sum(conversions_{m}) AS conversions_{m}, sum(revenue_{m}) AS revenue_{m}" for m in models
    )
    return f"SELECT {cols} FROM marts.attribution_models WHERE {f.where()}"


def attribution_accuracy(f: Filters) -> str:
    return (
        "SELECT model, sum(conversions) AS conversions, sum(credit_to_cause) AS credit_to_cause, "
        "if(conversions = 0, NULL, credit_to_cause / conversions) AS accuracy "
        f"FROM marts.attribution_accuracy WHERE {f.channel_where()} GROUP BY model ORDER BY accuracy DESC"
    )


def segment_sizes(f: Filters) -> str:
    return (
        "SELECT event_date, segment, users, active_users FROM marts.segment_daily "
        f"WHERE {Filters(f.start, f.end).where(campaign_level=False)} ORDER BY event_date, segment"
    )


def quality_by_layer(f: Filters) -> str:
    return (
        "SELECT arrival_date, layer, sum(failures) AS failures FROM marts.quality_daily "
        f"WHERE {Filters(f.start, f.end).where('arrival_date', campaign_level=False)} "
        "GROUP BY arrival_date, layer ORDER BY arrival_date, layer"
    )


def dimension_values(column: str, mart: str = "campaign_daily") -> str:
    return f"SELECT DISTINCT {column} FROM marts.{mart} ORDER BY {column}"


def date_range() -> str:
    return "SELECT min(event_date), max(event_date) FROM marts.campaign_daily"
