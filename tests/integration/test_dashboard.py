"""The dashboard in a real browser: `adlake dashboard` (Streamlit) over the shared lakehouse
run's marts snapshot, driven by Playwright in Debian's Chromium. The numbers on the page
are compared with the marts read through the pipeline's own engine; the live panel with
counters the streaming job's sink writes to a real Redis; and a marts rebuild runs while
the dashboard is open. ADLAKE_SCREENSHOTS=<dir> keeps a screenshot of every page (the
README's come from here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ad_assets.realtime.servers import RedisServer
from dashboard.formats import fmt
from spark_jobs.metric_definitions import ADDITIVE_METRICS, money_and_ratios
from tests.integration.helpers import END, marts, run_assets
from tests.stream_fixtures import free_port

CHROMIUM = "/usr/bin/chromium"
PAGES = (
    "overview",
    "campaigns",
    "auctions",
    "attribution",
    "audiences",
    "live",
    "models",
    "quality",
    "alerts",
)
TITLES = {
    "overview": "Overview",
    "campaigns": "Campaigns and channels",
    "auctions": "Publishers and auctions",
    "attribution": "Attribution",
    "audiences": "Audiences",
    "live": "Live",
    "models": "Models",
    "quality": "Data quality",
    "alerts": "KPI alerts",
}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("dash-redis"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dashboard(lakehouse, redis_server) -> Iterator[str]:
    s = lakehouse["settings"]
    port = free_port()
    env = {**os.environ, "ADLAKE_HOME": str(s.home), "ADLAKE_REDIS_URL": redis_server.url}
    env.update({"ADLAKE_START_DATE": s.start_date, "ADLAKE_SEED": str(s.seed)})
    log = open(s.home / "dashboard.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "ad_assets.cli", "dashboard", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"the dashboard did not start: {(s.home / 'dashboard.log').read_text()[-2000:]}"
            )
        time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture(scope="module")
def page(dashboard) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        p = context.new_page()
        p.errors = []  # type: ignore[attr-defined]
        p.on("pageerror", lambda e: p.errors.append(str(e)))  # type: ignore[attr-defined]
        yield p
        browser.close()


def open_page(page, url: str, name: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name=TITLES[name]).first.wait_for(timeout=30_000)
    wait_until_idle(page)


def wait_until_idle(page) -> None:
    """Streamlit runs the page's script after load; wait until the app says it stopped."""
    idle = "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"
    page.wait_for_function(idle, timeout=30_000)
    page.wait_for_timeout(300)


def tiles(page, count: int | None = None) -> dict[str, str]:
    """The metric tiles once `count` of them (default: the overview's KPIs) are on the page:
    Streamlit can report its script finished while the frontend still renders the last
    column (a CI run read eight of ten)."""
    from dashboard.queries import KPIS

    count = len(KPIS) if count is None else count
    shown = f"() => document.querySelectorAll('[data-testid=\"stMetricValue\"]').length >= {count}"
    page.wait_for_function(shown, timeout=10_000)
    out = {}
    for m in page.locator('[data-testid="stMetric"]').all():
        label = m.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = m.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def mart_day(lakehouse, where: str = "1") -> tuple[str, dict]:
    """The last event date of marts.campaign_daily and its KPIs, through the pipeline's
    engine, summed here in Python (not by the dashboard's SQL)."""
    with lakehouse["resources"]["clickhouse"].client() as c:
        day = c.command("SELECT toString(max(event_date)) FROM marts.campaign_daily")
        rows = c.query(
            f"SELECT {', '.join(ADDITIVE_METRICS)} FROM marts.campaign_daily "
            f"WHERE event_date = '{day}' AND {where}"
        ).result_rows
    sums = {m: sum(int(r[i]) for r in rows) for i, m in enumerate(ADDITIVE_METRICS)}
    return day, money_and_ratios(sums)


def expected_tiles(values: dict) -> dict[str, str]:
    from dashboard.queries import KPIS

    return {(k.upper() if len(k) <= 4 else k.capitalize()): fmt(values[k], kind) for k, kind in KPIS.items()}


def test_every_page_renders_without_errors(page, dashboard, lakehouse) -> None:
    shots = os.environ.get("ADLAKE_SCREENSHOTS")
    for name in PAGES:
        open_page(page, f"{dashboard}/{name}", name)
        assert page.locator('[data-testid="stException"]').count() == 0, (
            f"{name}: {page.inner_text('body')[:2000]}"
        )
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / f"dashboard-{name}.png"), full_page=True)
    assert page.errors == []


def test_overview_tiles_equal_the_marts_and_follow_the_filters(page, dashboard, lakehouse) -> None:
    day, values = mart_day(lakehouse)
    open_page(page, f"{dashboard}/overview", "overview")
    assert page.get_by_text(datetime.fromisoformat(day).strftime("%A %d %B %Y")).count() == 1
    assert tiles(page) == expected_tiles(values)
    with lakehouse["resources"]["clickhouse"].client() as c:
        advertiser = c.command(
            f"SELECT advertiser_id FROM marts.campaign_daily WHERE event_date = '{day}' "
            "GROUP BY advertiser_id ORDER BY sum(impressions) DESC LIMIT 1"
        )
    _, only = mart_day(lakehouse, f"advertiser_id = '{advertiser}'")
    assert only["impressions"] < values["impressions"]
    open_page(page, f"{dashboard}/overview?advertiser={advertiser}", "overview")
    assert tiles(page) == expected_tiles(only)


def test_live_panel_moves_as_the_stream_sink_writes(page, dashboard, redis_server, tmp_path) -> None:
    from spark_jobs.stream_sink import CounterSink
    from spark_jobs.streaming import WINDOW

    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "metadata").write_text(json.dumps({"id": "dashboard-test"}))
    sink = CounterSink(redis_server.url, "127.0.0.1:1", str(checkpoint))
    label = "Impressions, last 5 min"

    def batch(batch_id: int, impressions: int) -> None:
        ws = int(time.time()) // 10 * 10
        day = datetime.fromtimestamp(ws, UTC).date().isoformat()
        rows = [
            (WINDOW, ws, day, "campaign", "c-live", "impressions", impressions),
            (WINDOW, ws, day, "campaign", "c-live", "clicks", 3),
            (WINDOW, ws, day, "campaign", "c-live", "spend_micros", 2_500_000),
        ]
        assert sink.apply(rows, batch_id).applied

    open_page(page, f"{dashboard}/live", "live")
    batch(0, 400)
    page.wait_for_function(
        f"() => document.body.innerText.includes('{label}') && /\\n400\\n/.test(document.body.innerText)",
        timeout=15_000,
    )
    batch(1, 250)  # the page refreshes by itself (no reload): 650 in the window now
    page.wait_for_function("() => /\\n650\\n/.test(document.body.innerText)", timeout=15_000)
    assert tiles(page, count=4)[label] == "650"


def test_a_marts_rebuild_succeeds_while_the_dashboard_reads(page, dashboard, lakehouse) -> None:
    from dashboard.sources import SnapshotSource  # only its version: no chDB session opened

    root = lakehouse["settings"].marts_snapshot_path
    before = SnapshotSource(root).version()
    open_page(page, f"{dashboard}/overview", "overview")
    assert before and page.get_by_text(before).count() == 1
    # dbt rebuilds the last day's marts while the page keeps reloading (each load queries them).
    results = []
    build = threading.Thread(
        target=lambda: results.append(
            run_assets(lakehouse["resources"], END, END, lakehouse["instance"], assets=[marts])
        )
    )
    build.start()
    loads = 0
    while build.is_alive():
        open_page(page, f"{dashboard}/overview", "overview")
        assert page.locator('[data-testid="stException"]').count() == 0
        loads += 1
    build.join()
    assert results and results[0].success and loads >= 2
    after = SnapshotSource(root).version()
    assert after != before
    open_page(page, f"{dashboard}/overview", "overview")
    assert page.get_by_text(after).count() == 1
    assert tiles(page)["Impressions"] == expected_tiles(mart_day(lakehouse)[1])["Impressions"]
