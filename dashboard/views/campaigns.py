"""Campaigns and channels: every campaign's totals over the filters, and channels by day."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import queries, ui


def render() -> None:
    st.title("Campaigns and channels")
    f = ui.sidebar_filters()
    campaigns = ui.q(queries.campaign_totals(f))
    st.subheader(f"{len(campaigns)} campaigns, by spend")
    st.dataframe(campaigns, hide_index=True, use_container_width=True)
    channels = ui.q(queries.channel_daily(f))
    if channels.empty:
        ui.no_data("No channel data for these dates.")
        return
    metric = st.selectbox(
        "Channel metric", ["spend", "impressions", "clicks", "ctr", "cpm"], key="channel_metric"
    )
    chart = (
        alt.Chart(channels)
        .mark_line(point=True)
        .encode(x=alt.X("event_date:T", title="Event date"), y=f"{metric}:Q", color="channel:N")
        .properties(height=300)
    )
    st.altair_chart(chart, use_container_width=True)
    ui.freshness_caption()
