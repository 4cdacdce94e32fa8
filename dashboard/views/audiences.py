"""Audiences: segment sizes by day (users and users active that day)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import queries, ui


def render() -> None:
    st.title("Audiences")
    f = ui.sidebar_filters()
    sizes = ui.q(queries.segment_sizes(f))
    if sizes.empty:
        ui.no_data("No segments for these dates.")
        return
    st.altair_chart(
        alt.Chart(sizes)
        .mark_line(point=True)
        .encode(x=alt.X("event_date:T", title="Event date"), y="users:Q", color="segment:N")
        .properties(height=320),
        use_container_width=True,
    )
    last = sizes[sizes["event_date"] == sizes["event_date"].max()]
    st.dataframe(last, hide_index=True, use_container_width=True)
    ui.freshness_caption()
