"""Models: every trained version of the CTR and CVR models, how it scored, which serves."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import ui
from prediction.registry import CTR, CVR, Registry


def render() -> None:
    st.title("Models")
    lake = ui.settings().lake()
    for name, title in ((CTR, "Click model (CTR)"), (CVR, "Conversion model (CVR given a click)")):
        st.subheader(title)
        reg = Registry(lake, name)
        versions = reg.versions()
        if not versions:
            ui.no_data("Not trained yet: the training job needs enough days of lake (docs/prediction.md).")
            continue
        current = reg.current()
        st.write(f"Serving: **{current or 'none promoted'}**; candidate: {reg.candidate() or 'none'}")
        cards = {v: reg.card(v) or {} for v in versions}
        st.dataframe(pd.DataFrame([_row(cards[v], v, current) for v in versions]), hide_index=True)
        latest = versions[-1]
        st.caption(f"Evaluation of {latest} (held-out day), against the rule and the serving version:")
        st.dataframe(pd.DataFrame(cards[latest].get("evaluation") or []), hide_index=True)


def _row(card: dict, version: str, current: str | None) -> dict:
    return {
        "version": version,
        "serving": version == current,
        "promotable": card.get("promotable"),
        "train_rows": card.get("train_rows"),
        "evaluated_on": (card.get("split") or {}).get("evaluate"),
        "reasons": "; ".join(card.get("promotion_reasons") or []),
    }
