"""Alerts: the KPI alerts' history (fired and recovered, with delivery) and the rules."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import ui
from spark_jobs.lake_read import open_table, table_exists
from spark_jobs.layers import ALERT_HISTORY_TABLE


def history() -> pd.DataFrame:
    lake = ui.settings().lake()
    if not table_exists(lake, *ALERT_HISTORY_TABLE):
        return pd.DataFrame()
    df = open_table(lake, *ALERT_HISTORY_TABLE).to_pyarrow_table().to_pandas()
    return df.sort_values(["evaluated_at", "event_date"], ascending=False)


def render() -> None:
    st.title("KPI alerts")
    df = history()
    if df.empty:
        ui.no_data("No alert has fired yet. Rules are evaluated after each daily run (docs/alerts.md).")
    else:
        latest = df.sort_values("evaluated_at").groupby(["rule", "scope", "scope_id"]).tail(1)
        firing = latest[latest["status"] == "fired"]
        c = st.columns(3)
        c[0].metric("Firing now", len(firing))
        c[1].metric("Fired, all time", int((df["status"] == "fired").sum()))
        c[2].metric("Recovered, all time", int((df["status"] == "recovered").sum()))
        if not firing.empty:
            st.subheader("Firing")
            st.dataframe(firing, hide_index=True, use_container_width=True)
        st.subheader("History")
        st.dataframe(df, hide_index=True, use_container_width=True)
    with st.expander("Rules"):
        from ad_assets.alerts.rules import load_rules

        rules = load_rules(ui.settings().alert_rules)
        st.dataframe(pd.DataFrame([r.model_dump(exclude_none=True) for r in rules]), hide_index=True)
