"""Attribution: the conversions and revenue each model credits, side by side, and how often
each model credits the touch that really caused the conversion (the simulator's truth)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries, ui


def models() -> tuple[str, ...]:
    """The models of the mart, from its columns (the dbt var lists them once)."""
    cols = ui.q("SELECT * FROM marts.attribution_models LIMIT 0").columns
    return tuple(c.removeprefix("conversions_") for c in cols if c.startswith("conversions_"))


def render() -> None:
    st.title("Attribution")
    f = ui.sidebar_filters()
    names = models()
    credited = ui.q(queries.attribution_by_model(f, names))
    side = pd.DataFrame(
        {
            "model": names,
            "conversions": [credited[f"conversions_{m}"].iloc[0] for m in names],
            "revenue": [credited[f"revenue_{m}"].iloc[0] for m in names],
        }
    )
    st.subheader("Credited conversions by model")
    st.altair_chart(
        alt.Chart(side)
        .mark_bar()
        .encode(x="conversions:Q", y=alt.Y("model:N", sort=None), tooltip=["revenue"]),
        use_container_width=True,
    )
    st.dataframe(side, hide_index=True, use_container_width=True)
    st.subheader("Accuracy against the simulator's truth")
    st.caption("Share of conversions credited to the touch that caused them (channel filter applies).")
    st.dataframe(ui.q(queries.attribution_accuracy(f)), hide_index=True, use_container_width=True)
    ui.freshness_caption()
