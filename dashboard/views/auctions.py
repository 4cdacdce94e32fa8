"""Publishers and auctions: the top publishers, win rate per channel, the bid landscape."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import queries, ui


def render() -> None:
    st.title("Publishers and auctions")
    f = ui.sidebar_filters()
    st.subheader("Top publishers by spend")
    st.caption("Publishers with fewer daily users than the privacy threshold are not in the mart.")
    st.dataframe(ui.q(queries.publisher_totals(f)), hide_index=True, use_container_width=True)
    left, right = st.columns(2)
    wins = ui.q(queries.auction_by_channel(f))
    left.subheader("Win rate per channel")
    left.altair_chart(
        alt.Chart(wins).mark_bar().encode(x=alt.X("win_rate:Q", axis=alt.Axis(format="%")), y="channel:N"),
        use_container_width=True,
    )
    landscape = ui.q(queries.bid_landscape(f))
    right.subheader("Bid landscape")
    right.altair_chart(
        alt.Chart(landscape)
        .mark_line(point=True)
        .encode(
            x=alt.X("bid_bucket_cpm:Q", title="bid (CPM)"),
            y=alt.Y("win_rate:Q", axis=alt.Axis(format="%")),
            color="channel:N",
        ),
        use_container_width=True,
    )
    ui.freshness_caption()
