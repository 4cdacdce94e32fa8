"""Live: the streaming job's 10-second windows in Redis, refreshed every few seconds."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import live, ui

REFRESH_SECONDS = 2
MINUTES = 5


def render() -> None:
    st.title("Live")
    st.caption(
        f"Valid traffic counted by the streaming job in 10-second event-time windows, last {MINUTES} "
        f"minutes, refreshed every {REFRESH_SECONDS} s (`adlake stream demo` feeds it)."
    )
    _panel()


@st.fragment(run_every=REFRESH_SECONDS)
def _panel() -> None:
    try:
        r = live.client(ui.settings().redis_url)
        health = live.stream_health(r)
        windows = live.recent_windows(r, MINUTES)
    except Exception as ex:  # Redis down or not started: say so, keep the page
        st.warning(
            f"Live counters unavailable ({type(ex).__name__}: {ex}). Start them with `adlake stream up`."
        )
        return
    if health["incomplete"]:
        st.error(f"The counters are incomplete: {health['incomplete'].get('reason')}")
    totals = live.per_window(windows)
    c = st.columns(4)
    c[0].metric(f"Impressions, last {MINUTES} min", ui.fmt(totals["impressions"].sum(), "int"))
    c[1].metric(f"Clicks, last {MINUTES} min", ui.fmt(totals["clicks"].sum(), "int"))
    c[2].metric(f"Spend, last {MINUTES} min", ui.fmt(totals["spend"].sum(), "money"))
    since = health["seconds_since_batch"]
    c[3].metric("Last micro-batch", "never" if since is None else f"{since:.0f} s ago")
    if totals.empty:
        st.info("No events in the last minutes.")
        return
    left, right = st.columns(2)
    left.altair_chart(
        alt.Chart(totals).mark_line(point=True).encode(x=alt.X("window:T", title="window (UTC)"), y="ctr:Q"),
        use_container_width=True,
    )
    spend = live.per_minute_spend(windows)
    right.altair_chart(
        alt.Chart(spend).mark_bar().encode(x=alt.X("minute:T", title="minute (UTC)"), y="spend:Q"),
        use_container_width=True,
    )
    st.subheader("Top campaigns by spend")
    st.dataframe(live.top_campaigns(windows), hide_index=True, use_container_width=True)
