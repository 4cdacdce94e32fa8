"""Data quality: failed checks per layer and arrival date, and what is in quarantine."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries, ui
from spark_jobs.layers import QUARANTINE_TABLE


def render() -> None:
    st.title("Data quality")
    f = ui.sidebar_filters()
    checks = ui.q(queries.quality_by_layer(f))
    failing = int(checks["failures"].sum()) if not checks.empty else 0
    st.metric("Failed checks in the period", failing)
    if not checks.empty:
        st.altair_chart(
            alt.Chart(checks)
            .mark_bar()
            .encode(x=alt.X("arrival_date:T", title="Arrival date"), y="failures:Q", color="layer:N"),
            use_container_width=True,
        )
    st.subheader("Quarantine")
    table = ui.lake_table(*QUARANTINE_TABLE)
    rows = pd.DataFrame()
    if table is not None and not table.empty:
        keys = ["arrival_date", "event_type", "reason"]
        rows = table.groupby(keys).size().reset_index(name="lines").sort_values(keys)
    if rows.empty:
        st.success("Nothing in quarantine.")
    else:
        st.dataframe(rows, hide_index=True, use_container_width=True)
    ui.freshness_caption()
