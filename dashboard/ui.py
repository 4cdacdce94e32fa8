"""What every page shares: the marts source and its query cache, the sidebar filters, the
number formats and the KPI tiles. Settings are read once per server process."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from ad_assets.settings import Settings, load_settings
from dashboard import queries
from dashboard.formats import fmt
from dashboard.queries import KPIS, Filters
from dashboard.sources import MartsSource, NoMartsYet, ServerSource, SnapshotSource

TRAILING_DAYS = 7


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource
def source() -> MartsSource:
    s = settings()
    if s.clickhouse_target == "embedded":
        return SnapshotSource(s.marts_snapshot_path)
    return ServerSource(
        s.clickhouse_host,
        s.clickhouse_port,
        s.clickhouse_user,
        os.environ.get("ADLAKE_CLICKHOUSE_PASSWORD", ""),
        s.clickhouse_secure,
    )


@st.cache_data(max_entries=512, show_spinner=False)
def _cached(version: str, sql: str) -> pd.DataFrame:
    # Keyed by the marts' version: a new dbt build makes every entry stale at once.
    return source().query(sql)


def q(sql: str) -> pd.DataFrame:
    version = source().version()
    if version is None:
        raise NoMartsYet("the marts have not been built yet: run `make run` (or the daily job) first")
    return _cached(version, sql)


def marts_version() -> str | None:
    return source().version()


def lake_table(layer: str, name: str) -> pd.DataFrame | None:
    """A Delta table of the lake, read by the marts source's engine (never cached: small,
    and the alert history changes between marts builds)."""
    return source().lake_table(settings().lake(), layer, name)


# ------------------------------------------------------------------ filters
def _param_list(name: str) -> list[str]:
    return [v for v in st.query_params.get_all(name) if v]


def _options(column: str, mart: str = "campaign_daily") -> list[str]:
    return [str(v) for v in q(queries.dimension_values(column, mart)).iloc[:, 0].tolist()]


def sidebar_filters() -> Filters:
    """Date range, advertisers, campaigns and channels; initial values from the URL
    (?advertiser=a-1&start=2026-11-03), so a view can be linked."""
    bounds = q(queries.date_range())
    first, last = (pd.Timestamp(bounds.iloc[0, 0]).date(), pd.Timestamp(bounds.iloc[0, 1]).date())
    p = st.query_params
    start = date.fromisoformat(p["start"]) if p.get("start") else first
    end = date.fromisoformat(p["end"]) if p.get("end") else last
    st.sidebar.header("Filters")
    picked = st.sidebar.date_input("Event dates", (start, end), min_value=first, max_value=last, key="dates")
    if isinstance(picked, tuple) and len(picked) == 2:
        start, end = picked
    advertisers = st.sidebar.multiselect(
        "Advertiser", _options("advertiser_id"), default=_param_list("advertiser"), key="advertisers"
    )
    campaign_options = _options("campaign_id")
    if advertisers:
        scoped = q(
            "SELECT DISTINCT campaign_id FROM marts.campaign_daily WHERE "
            + Filters(advertisers=tuple(advertisers)).where()
        )
        campaign_options = sorted(scoped["campaign_id"].astype(str))
    campaigns = st.sidebar.multiselect(
        "Campaign",
        campaign_options,
        default=[c for c in _param_list("campaign") if c in campaign_options],
        key="campaigns",
    )
    channels = st.sidebar.multiselect(
        "Channel", _options("channel", "channel_daily"), default=_param_list("channel"), key="channels"
    )
    return Filters(start, end, tuple(advertisers), tuple(campaigns), tuple(channels))


def freshness_caption() -> None:
    s = settings()
    st.caption(f"Marts: {source().target}, version {marts_version()} · ADLAKE_HOME {s.home}")


# ------------------------------------------------------------------ KPI tiles
def kpi_comparison(daily: pd.DataFrame, day: date) -> pd.DataFrame:
    """Per KPI: the day, the day before, and the trailing week before the day (ratios from
    the week's sums; counts and money as daily means)."""
    daily = daily.assign(event_date=pd.to_datetime(daily["event_date"]).dt.date)
    today = daily[daily["event_date"] == day]
    prev = daily[daily["event_date"] == day - timedelta(days=1)]
    week = daily[(daily["event_date"] < day) & (daily["event_date"] >= day - timedelta(days=TRAILING_DAYS))]
    rows = []
    for name, kind in KPIS.items():
        rows.append(
            {
                "kpi": name,
                "kind": kind,
                "day": _value(today, name),
                "previous_day": _value(prev, name),
                "trailing_mean": _value(week, name, mean_days=max(1, week["event_date"].nunique())),
            }
        )
    return pd.DataFrame(rows)


def _value(df: pd.DataFrame, name: str, mean_days: int = 1) -> float | None:
    from spark_jobs.metric_definitions import ADDITIVE_METRICS, money_and_ratios

    if df.empty:
        return None
    sums = {m: int(df[m].sum()) for m in ADDITIVE_METRICS}
    values = money_and_ratios(sums)
    v = values[name]
    if v is None:
        return None
    return v / mean_days if name in ("impressions", "clicks", "conversions", "spend", "revenue") else v


def kpi_tiles(comparison: pd.DataFrame) -> None:
    cols = st.columns(5)
    for i, r in enumerate(comparison.itertuples()):
        delta = None
        if r.day is not None and r.previous_day not in (None, 0):
            delta = f"{(r.day / r.previous_day - 1) * 100:+.1f}% vs previous day"
        cols[i % 5].metric(
            r.kpi.upper() if len(r.kpi) <= 4 else r.kpi.capitalize(),
            fmt(r.day, r.kind),
            delta,
            help=f"trailing {TRAILING_DAYS}-day mean: {fmt(r.trailing_mean, r.kind)}",
        )


def no_data(message: str) -> None:
    st.info(message)
