"""Alerts: the KPI alerts' history (fired and recovered, with delivery) and the rules."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ad_assets.alerts.state import FIRED, state_from_history
from dashboard import ui
from spark_jobs.layers import ALERT_HISTORY_TABLE


def history() -> pd.DataFrame:
    df = ui.lake_table(*ALERT_HISTORY_TABLE)
    if df is None:
        return pd.DataFrame()
    df["event_date"] = pd.to_datetime(df["event_date"]).dt.date
    return df.sort_values(["evaluated_at", "event_date"], ascending=False)


def render() -> None:
    st.title("KPI alerts")
    df = history()
    if df.empty:
        ui.no_data("No alert has fired yet. Rules are evaluated after each daily run (docs/alerts.md).")
    else:
        # The alerts' state as the evaluation keeps it (the last transition of each alert).
        state = state_from_history(df.to_dict("records"))
        keys = {k for k, alert in state.items() if alert.firing}
        fired = df[df["status"] == FIRED]
        firing = fired[[(r.rule, r.scope, r.scope_id) in keys for r in fired.itertuples()]]
        firing = firing.sort_values("event_date").groupby(["rule", "scope", "scope_id"]).tail(1)
        c = st.columns(3)
        c[0].metric("Firing now", len(firing))
        c[1].metric("Fired, all time", int((df["status"] == FIRED).sum()))
        c[2].metric("Recovered, all time", int((df["status"] != FIRED).sum()))
        if not firing.empty:
            st.subheader("Firing")
            st.dataframe(firing, hide_index=True, use_container_width=True)
        st.subheader("History")
        st.dataframe(df, hide_index=True, use_container_width=True)
    with st.expander("Rules"):
        from ad_assets.alerts.rules import load_rules

        rules = load_rules(ui.settings().alert_rules)
        st.dataframe(pd.DataFrame([r.model_dump(exclude_none=True) for r in rules]), hide_index=True)
