"""The alerts' webhook (ad_assets/alerts/webhook.py): a local HTTP server receives the
Slack-compatible payload; failures come back as a result, never as an exception."""

import json
import socket
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ad_assets.alerts.evaluate import Finding
from ad_assets.alerts.state import FIRED, RECOVERED, Notice
from ad_assets.alerts.webhook import (
    MAX_SECTIONS,
    RECOVERED_EMOJI,
    SEVERITY_EMOJI,
    WEBHOOK_ENV,
    deliver,
    slack_payload,
    webhook_url,
)


def finding(firing: bool = True, scope_id: str = "all") -> Finding:
    return Finding(
        rule="cvr_drop_platform",
        severity="critical",
        scope="platform",
        scope_id=scope_id,
        metric="cvr",
        event_date=date(2026, 11, 5),
        value=0.01 if firing else 0.06,
        baseline=0.046,
        change=-0.79 if firing else 0.3,
        firing=firing,
        clear=not firing,
        message="CVR of the platform on 2026-11-05: 0.98% against 4.56% (-79%)",
    )


NOTICES = [Notice(FIRED, finding()), Notice(RECOVERED, finding(firing=False))]


class _Receiver(BaseHTTPRequestHandler):
    """Answers each POST with the next of `server.answers` (status, body), then 200 ok,
    and keeps what it received."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        status, text = self.server.answers.pop(0) if self.server.answers else (200, "ok")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, *args) -> None:  # quiet test output
        pass


@pytest.fixture
def receiver() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    server.received, server.answers = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: HTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/hook"


def test_the_webhook_receives_the_slack_payload(receiver):
    payload = slack_payload(NOTICES)
    result = deliver(_url(receiver), payload)
    assert result.sent and result.status == "sent" and result.attempts == 1 and result.status_code == 200
    [(path, content_type, body)] = receiver.received
    assert path == "/services/T000/B000/hook" and content_type == "application/json"
    assert body == payload


def test_the_slack_payload():
    payload = slack_payload(NOTICES)
    assert payload["text"] == "AdLake KPI alerts: 1 fired, 1 recovered"
    header, fired, recovered = payload["blocks"]
    assert header == {"type": "section", "text": {"type": "mrkdwn", "text": f"*{payload['text']}*"}}
    assert fired["type"] == "section" and fired["text"]["type"] == "mrkdwn"
    assert fired["text"]["text"].startswith(
        f"{SEVERITY_EMOJI['critical']} *cvr_drop_platform* fired (critical)"
    )
    assert "platform `all` on 2026-11-05" in fired["text"]["text"]
    assert fired["text"]["text"].endswith(NOTICES[0].finding.message)
    assert recovered["text"]["text"].startswith(f"{RECOVERED_EMOJI} *cvr_drop_platform* recovered")
    json.dumps(payload)  # plain JSON


def test_many_notices_stay_within_slacks_block_limit():
    many = [Notice(FIRED, finding(scope_id=f"cmp-{i}")) for i in range(MAX_SECTIONS + 7)]
    payload = slack_payload(many)
    assert len(payload["blocks"]) == MAX_SECTIONS + 2 <= 50
    assert payload["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "... and 7 more in the alert history"}],
    }
    assert payload["text"] == f"AdLake KPI alerts: {MAX_SECTIONS + 7} fired, 0 recovered"


def test_a_closed_port_fails_with_a_reason_and_never_raises():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    result = deliver(f"http://127.0.0.1:{port}/hook", slack_payload(NOTICES), timeout=2, retries=1, backoff=0)
    assert not result.sent and result.attempts == 2 and result.status_code is None
    assert result.status.startswith("failed: ConnectError")


def test_server_errors_are_retried_and_client_errors_are_not(receiver):
    receiver.answers = [(503, "busy"), (500, "oops")]
    result = deliver(_url(receiver), slack_payload(NOTICES), retries=2, backoff=0)
    assert result.sent and result.attempts == 3 and len(receiver.received) == 3
    receiver.answers = [(503, "busy"), (503, "busy")]
    result = deliver(_url(receiver), slack_payload(NOTICES), retries=1, backoff=0)
    assert not result.sent and result.status == "failed: HTTP 503: busy" and result.attempts == 2
    receiver.answers = [(404, "no_service")]
    result = deliver(_url(receiver), slack_payload(NOTICES), retries=2, backoff=0)
    assert (
        result.status == "failed: HTTP 404: no_service" and result.attempts == 1 and result.status_code == 404
    )


def test_a_malformed_url_fails_with_a_reason():
    for url in ("not a url", "ftp://example.invalid/hook", "http://[::1/hook"):
        result = deliver(url, slack_payload(NOTICES), retries=2)  # not retried: no wait either
        assert not result.sent and result.attempts == 1, url
        assert result.status.startswith("failed: bad webhook URL: "), url


def test_the_url_comes_from_the_environment_when_asked():
    assert webhook_url({WEBHOOK_ENV: "https://hooks.example/x"}) == "https://hooks.example/x"
    assert webhook_url({WEBHOOK_ENV: ""}) is None
    assert webhook_url({}) is None
