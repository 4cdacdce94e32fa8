"""Overview: the KPIs of the last day against the day before and the trailing week, and
their timelines by day and by hour."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries, ui
from dashboard.queries import KPIS


def render() -> None:
    st.title("Overview")
    f = ui.sidebar_filters()
    daily = ui.q(queries.daily_totals(f))
    if daily.empty:
        ui.no_data("No deliveries match these filters.")
        return
    day = pd.Timestamp(daily["event_date"].max()).date()
    st.subheader(f"{day:%A %d %B %Y}")
    ui.kpi_tiles(ui.kpi_comparison(daily, day))
    metric = st.selectbox(
        "Timeline metric", list(KPIS), index=list(KPIS).index("spend"), key="timeline_metric"
    )
    left, right = st.columns(2)
    left.altair_chart(_line(daily, "event_date", metric, "Event date"), use_container_width=True)
    hourly = ui.q(queries.hourly_totals(f))
    right.altair_chart(_line(hourly, "event_hour_start", metric, "Hour (UTC)"), use_container_width=True)
    ui.freshness_caption()


def _line(df: pd.DataFrame, x: str, metric: str, title: str) -> alt.Chart:
    return (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(x=alt.X(f"{x}:T", title=title), y=alt.Y(f"{metric}:Q", title=metric), tooltip=[x, metric])
        .properties(height=280)
    )
