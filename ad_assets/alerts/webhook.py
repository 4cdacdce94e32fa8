"""Notices to a Slack-compatible incoming webhook (docs/alerts.md, "Webhook").

The URL comes from ADLAKE_ALERT_WEBHOOK_URL, read by the caller at the edge (webhook_url),
never at import. `deliver` never raises on an HTTP or connection failure: its result says
whether the payload was sent, and why not, for the history's `delivery` column (the reason
never quotes the URL, which is a secret: Slack's carries its token)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ad_assets.alerts.state import FIRED, Notice

WEBHOOK_ENV = "ADLAKE_ALERT_WEBHOOK_URL"
SEVERITY_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
RECOVERED_EMOJI = ":white_check_mark:"
# Slack takes at most 50 blocks a message: sections for the first notices, then one line
# that counts the rest.
MAX_SECTIONS = 48
_SECTION_CHARS = 3000  # Slack's limit on a section's text
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})  # worth another try


@dataclass(frozen=True)
class DeliveryResult:
    sent: bool
    detail: str  # "" when sent, else why not
    attempts: int
    status_code: int | None = None  # the last response's, if any

    @property
    def status(self) -> str:
        """The history's `delivery`: 'sent' or 'failed: <reason>'."""
        return "sent" if self.sent else f"failed: {self.detail}"


def webhook_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The webhook URL from the environment, None when unset or empty."""
    return (os.environ if environ is None else environ).get(WEBHOOK_ENV) or None


def notice_text(n: Notice) -> str:
    """A notice as one Slack mrkdwn paragraph: emoji, rule, status, severity, then the sentence."""
    f = n.finding
    emoji = SEVERITY_EMOJI[f.severity] if n.status == FIRED else RECOVERED_EMOJI
    head = f"{emoji} *{f.rule}* {n.status} ({f.severity}) for {f.scope} `{f.scope_id}` on {f.event_date}"
    return f"{head}\n{f.message}"[:_SECTION_CHARS]


def slack_payload(notices: Sequence[Notice], title: str = "AdLake KPI alerts") -> dict[str, Any]:
    """Slack's incoming-webhook JSON: `text` (the notification and fallback line) and one
    section block per notice (the first MAX_SECTIONS, then a count of the rest)."""
    fired = sum(n.status == FIRED for n in notices)
    summary = f"{title}: {fired} fired, {len(notices) - fired} recovered"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{summary}*"}}]
    blocks += [
        {"type": "section", "text": {"type": "mrkdwn", "text": notice_text(n)}}
        for n in notices[:MAX_SECTIONS]
    ]
    if len(notices) > MAX_SECTIONS:
        more = f"... and {len(notices) - MAX_SECTIONS} more in the alert history"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return {"text": summary, "blocks": blocks}


def deliver(
    url: str, payload: Mapping[str, Any], timeout: float = 5.0, retries: int = 2, backoff: float = 0.5
) -> DeliveryResult:
    """POST the payload as JSON; retry connection errors, timeouts and 408/429/5xx up to
    `retries` more times (waiting backoff, 2 x backoff, ...). Any 2xx is sent."""
    detail, code, attempts = "", None, 0
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        attempts += 1
        try:
            response = httpx.post(url, json=payload, timeout=timeout)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:  # no retry mends the URL
            return DeliveryResult(False, f"bad webhook URL: {e}", attempts)
        except httpx.HTTPError as e:  # connection refused, DNS, timeout ...
            detail, code = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__, None
            continue
        code = response.status_code
        if response.is_success:
            return DeliveryResult(True, "", attempts, code)
        detail = f"HTTP {code}: {response.text[:200].strip()}".rstrip(": ")
        if code not in _RETRY_STATUS:
            break
    return DeliveryResult(False, detail, attempts, code)
