"""The KPI alerts' asset on the shared lakehouse run: it reads the marts snapshot the marts
step published, records fired notices in the Delta history table with Spark, posts them to
a webhook (a local HTTP server), and a rerun sends and records nothing twice. The rules'
logic (trailing means, minimum volume, recovery) is unit-tested in tests/unit."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from dagster import materialize

from ad_assets.defs.alerts import DELIVERED_CHECK, WEBHOOK_ENV, build_alert_history, read_history, read_marts
from spark_jobs.lake_read import open_table
from spark_jobs.layers import ALERT_HISTORY_TABLE

# One rule that must fire on every scope with clicks: CTR above 0 on any campaign.
RULES = """
rules:
  - name: any_clicks
    compare: threshold
    metric: ctr
    scope: platform
    above: 0.0
    severity: info
"""


@pytest.fixture
def webhook() -> Iterator[SimpleNamespace]:
    """A local HTTP server that keeps every JSON body posted to it."""
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}/hook", received=received)
    server.shutdown()


def test_alerts_fire_once_into_the_history_and_the_webhook(lakehouse, webhook, tmp_path: Path, monkeypatch):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    lake = lakehouse["lake"]
    history_asset = build_alert_history(str(rules))
    resources = lakehouse["resources"]

    result = materialize([history_asset], resources=resources, instance=lakehouse["instance"])
    assert result.success
    rows = read_history(lake)
    # The platform's CTR is above 0 from its first day: one notice, dated that day.
    first_day = min(read_marts(resources["clickhouse"])["campaign_daily"]["event_date"])
    assert [(r["rule"], r["scope_id"], r["status"], r["event_date"]) for r in rows] == [
        ("any_clicks", "all", "fired", first_day)
    ]
    assert rows[0]["delivery"] == "sent"
    assert len(webhook.received) == 1 and "any_clicks" in json.dumps(webhook.received[0])
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == DELIVERED_CHECK and check.passed
    version = open_table(lake, *ALERT_HISTORY_TABLE).version()

    # Rerun: the state in the history says it already fired: nothing sent, nothing written.
    assert materialize([history_asset], resources=resources, instance=lakehouse["instance"]).success
    assert len(webhook.received) == 1 and open_table(lake, *ALERT_HISTORY_TABLE).version() == version
