"""An independent recomputation of the gold metrics straight from the raw files, in plain
Python (json + gzip), without Spark or any code under test. Only the contract's field list
and the names of the additive metrics (spark_jobs/metric_definitions.py) are shared, and the
attribution windows as configured, and the consent rule in Python (its Spark twin is
tested against it); how each is computed follows the wording of
docs/metrics.md and docs/attribution.md."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from spark_jobs.attribution_windows import DEFAULT_WINDOWS, AttributionWindows
from spark_jobs.consent import measurement_allowed
from spark_jobs.contracts import RAW_FIELDS
from spark_jobs.metric_definitions import ADDITIVE_METRICS

_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def _get(obj: dict, path: str):
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _well_typed(value, dtype: str) -> bool:
    if dtype == "string":
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    if dtype in ("bigint", "int"):
        return isinstance(value, int) and not isinstance(value, bool)
    if dtype == "double":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if dtype == "boolean":
        return isinstance(value, bool)
    if dtype == "timestamp":
        return isinstance(value, str) and bool(_TS.match(value))
    raise ValueError(dtype)


def line_is_valid(line: bytes, event_type: str) -> bool:
    try:
        obj = json.loads(line)
    except ValueError:
        return False
    if not isinstance(obj, dict) or obj.get("event_type", event_type) != event_type:
        return False
    for f in RAW_FIELDS[event_type]:
        v = _get(obj, f.json_path)
        if v is None:
            if f.required:
                return False
        elif not _well_typed(v, f.dtype):
            return False
    return True


@dataclass
class RawEvents:
    lines: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))  # (type, dt) -> n
    invalid: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    events: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))  # first arrivals


def read_raw(root: Path) -> RawEvents:
    out = RawEvents()
    for event_type in RAW_FIELDS:
        seen: set[str] = set()
        files = sorted((root / "raw" / event_type).glob("dt=*/hour=*/*.jsonl.gz"))
        for path in files:  # dt=, hour= and name sort in arrival order
            dt = path.parent.parent.name.removeprefix("dt=")
            try:
                text = gzip.decompress(path.read_bytes())
            except (OSError, EOFError):
                text = b""
            if not text:  # unreadable or empty: the whole file is one quarantined row
                out.lines[(event_type, dt)] += 1
                out.invalid[(event_type, dt)] += 1
                continue
            for line in text.splitlines():
                out.lines[(event_type, dt)] += 1
                if not line_is_valid(line, event_type):
                    out.invalid[(event_type, dt)] += 1
                    continue
                obj = json.loads(line)
                if obj["event_id"] in seen:  # a resend: the first arrival counts
                    continue
                seen.add(obj["event_id"])
                obj["_ts"] = datetime.fromisoformat(obj["event_ts"].removesuffix("Z"))
                out.events[event_type].append(obj)
    return out


def campaign_daily(raw: RawEvents) -> dict[tuple[date, str], dict[str, int]]:
    """{(event_date, campaign_id): impressions, clicks, conversions, spend_micros, revenue_micros}."""
    return _metrics_by(raw, lambda ts, imp: (ts.date(), imp["campaign_id"]))


def publisher_daily(raw: RawEvents) -> dict[tuple[date, str, str], dict[str, int]]:
    """{(event_date, publisher_id, channel): the counts above + unique_users}; clicks and
    conversions go to the publisher of the impression clicked."""

    def key(ts: datetime, imp: dict) -> tuple:
        return (ts.date(), imp.get("publisher_id") or "unknown", imp.get("channel") or "unknown")

    m = _metrics_by(raw, key)
    users: dict = defaultdict(set)
    for e in raw.events["impression"]:
        if _valid(e) and e.get("user_id") is not None:
            users[key(e["_ts"], e)].add(e["user_id"])
    for k, row in m.items():
        row["unique_users"] = len(users.get(k, ()))
    return m


def attribution_credits(
    raw: RawEvents, windows: AttributionWindows = DEFAULT_WINDOWS
) -> dict[tuple[date, str | None, str], float]:
    """{(conversion event date, campaign_id, model): credited conversions} under the five
    heuristic models, and (date, None, 'none') for conversions with no touch: DESIGN's
    definitions applied to the first arrivals, one conversion at a time. Touches: valid
    clicks inside the advertiser's click window and, with a view window, its valid
    impressions that no valid click followed."""
    imps = {e["impression_id"]: e for e in raw.events["impression"]}
    clicks = [
        (c, imps[c["impression_id"]])
        for c in raw.events["click"]
        if _valid(c) and c["impression_id"] in imps and _valid(imps[c["impression_id"]])
    ]
    clicked = {imp["impression_id"] for _, imp in clicks}  # clicked by anyone, consent or not
    views = [i for i in imps.values() if _valid(i) and i["impression_id"] not in clicked and _measurable(i)]
    clicks = [(c, imp) for c, imp in clicks if _measurable(c)]
    out: dict = defaultdict(float)
    for v in _orders(raw).values():
        day = v["_ts"].date()
        window = windows.for_advertiser(v["advertiser_id"])
        if v.get("user_id") is None or not _measurable(v):
            touches = []
        else:
            touches = sorted(
                [
                    (c["_ts"], c["event_id"], imp["campaign_id"])
                    for c, imp in clicks
                    if c.get("user_id") == v["user_id"]
                    and imp["advertiser_id"] == v["advertiser_id"]
                    and v["_ts"] - timedelta(days=window.click_days) <= c["_ts"] <= v["_ts"]
                ]
                + [
                    (i["_ts"], i["event_id"], i["campaign_id"])
                    for i in views
                    if window.view_hours
                    and i.get("user_id") == v["user_id"]
                    and i["advertiser_id"] == v["advertiser_id"]
                    and v["_ts"] - timedelta(hours=window.view_hours) <= i["_ts"] <= v["_ts"]
                ]
            )
        n = len(touches)
        if n == 0:
            out[(day, None, "none")] += 1.0
            continue
        decay = [2 ** (-(v["_ts"] - ts).total_seconds() / (7 * 86400)) for ts, _, _ in touches]
        middle = [0.2 / (n - 2)] * (n - 2) if n > 2 else []
        weights = {
            "first_click": [1.0] + [0.0] * (n - 1),
            "last_click": [0.0] * (n - 1) + [1.0],
            "linear": [1 / n] * n,
            "time_decay": [d / sum(decay) for d in decay],
            "position_based": [1.0] if n == 1 else [0.5, 0.5] if n == 2 else [0.4, *middle, 0.4],
        }
        for model, credits in weights.items():
            for (_, _, campaign), credit in zip(touches, credits, strict=True):
                out[(day, campaign, model)] += credit
    return dict(out)


def _orders(raw: RawEvents) -> dict[str, dict]:
    """The first valid arrival of each order_id (by event time, then event id)."""
    orders: dict[str, dict] = {}
    for v in raw.events["conversion"]:
        if v["is_test"]:
            continue
        cur = orders.get(v["order_id"])
        if cur is None or (v["_ts"], v["event_id"]) < (cur["_ts"], cur["event_id"]):
            orders[v["order_id"]] = v
    return orders


def _valid(e: dict) -> bool:
    return e["ivt"] == "none" and not e["is_test"]


def _measurable(e: dict) -> bool:
    """Whether the event may join a user's journey (docs/privacy.md)."""
    return measurement_allowed(e.get("gdpr"), e.get("consent"))


def _metrics_by(raw: RawEvents, key_of) -> dict[tuple, dict[str, int]]:
    """Counts per key_of(event_ts, impression): impressions by their own time, clicks and
    conversions by theirs, each keyed through the impression they go back to."""
    m: dict = defaultdict(lambda: defaultdict(int))
    imps = {e["impression_id"]: e for e in raw.events["impression"]}
    for e in raw.events["impression"]:
        if _valid(e):
            m[key_of(e["_ts"], e)]["impressions"] += 1
            m[key_of(e["_ts"], e)]["spend_micros"] += e["cost_micros"]
    valid_clicks = []
    for c in raw.events["click"]:
        imp = imps.get(c["impression_id"])
        if _valid(c) and imp is not None and _valid(imp):
            m[key_of(c["_ts"], imp)]["clicks"] += 1
            valid_clicks.append((c, imp))
    for v in _orders(raw).values():
        if v.get("user_id") is None or not _measurable(v):
            continue
        best = None
        for c, imp in valid_clicks:
            if (
                _measurable(c)
                and c.get("user_id") == v["user_id"]
                and imp["advertiser_id"] == v["advertiser_id"]
                and v["_ts"] - timedelta(days=7) <= c["_ts"] <= v["_ts"]
                and (best is None or (c["_ts"], c["event_id"]) > (best[0]["_ts"], best[0]["event_id"]))
            ):
                best = (c, imp)
        if best is not None:
            key = key_of(v["_ts"], best[1])
            m[key]["conversions"] += 1
            m[key]["revenue_micros"] += v["value_micros"]
    return {k: {c: v.get(c, 0) for c in ADDITIVE_METRICS} for k, v in m.items()}


def user_activity(raw: RawEvents, key: bytes) -> dict[tuple[date, str], tuple[int, int, int]]:
    """{(event_date, user_pid): (valid impressions, valid clicks, orders)} of the events
    with consent for measurement and a user id: what a user-level table may hold."""
    out: dict = defaultdict(lambda: [0, 0, 0])

    def pid(user_id: str) -> str:
        return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()

    imps = {e["impression_id"]: e for e in raw.events["impression"]}
    for e in raw.events["impression"]:
        if _valid(e) and _measurable(e) and e.get("user_id") is not None:
            out[(e["_ts"].date(), pid(e["user_id"]))][0] += 1
    for c in raw.events["click"]:
        imp = imps.get(c["impression_id"])
        if _valid(c) and imp is not None and _valid(imp) and _measurable(c) and c.get("user_id") is not None:
            out[(c["_ts"].date(), pid(c["user_id"]))][1] += 1
    for v in _orders(raw).values():
        if _measurable(v) and v.get("user_id") is not None:
            out[(v["_ts"].date(), pid(v["user_id"]))][2] += 1
    return {k: tuple(v) for k, v in out.items()}
