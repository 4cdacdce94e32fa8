"""AdLake's dashboard: `adlake dashboard [--port N]` runs `streamlit run` on this file
(docs/dashboards.md). Pages that need the marts read the Parquet snapshot the marts step
publishes (or the ClickHouse server), never the pipeline's embedded engine."""

from __future__ import annotations

import streamlit as st

from dashboard.sources import NoMartsYet
from dashboard.views import (
    alerts,
    attribution,
    auctions,
    audiences,
    campaigns,
    live,
    models,
    overview,
    quality,
)

PAGES = [
    st.Page(overview.render, title="Overview", url_path="overview", default=True),
    st.Page(campaigns.render, title="Campaigns and channels", url_path="campaigns"),
    st.Page(auctions.render, title="Publishers and auctions", url_path="auctions"),
    st.Page(attribution.render, title="Attribution", url_path="attribution"),
    st.Page(audiences.render, title="Audiences", url_path="audiences"),
    st.Page(live.render, title="Live", url_path="live"),
    st.Page(models.render, title="Models", url_path="models"),
    st.Page(quality.render, title="Data quality", url_path="quality"),
    st.Page(alerts.render, title="KPI alerts", url_path="alerts"),
]

st.set_page_config(page_title="AdLake", layout="wide")
page = st.navigation(PAGES)
try:
    page.run()
except NoMartsYet as ex:
    st.info(str(ex))
