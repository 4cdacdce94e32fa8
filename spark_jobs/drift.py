"""Schema drift in the raw logs, reported rather than crashed on.

Bronze already routes each line by the contract: an unknown field is kept in
`extra_json`, a missing or uncastable required field quarantines the line. Drift is
when that stops being noise: a field that fails its type (or is absent) in a real share
of an event type's lines means the sender changed the field's type or dropped it; a new
field in a real share of lines means the sender added one. The counts come from bronze's
own parse (no second read of the tables)."""

from __future__ import annotations

from collections import Counter

# A field failing (or appearing) in at least 1% of an event type's lines is drift; the
# odd mangled line in transit stays far below (about 0.01% in the generator's logs).
DRIFT_SHARE = 0.01
_FIELD_REASONS = ("bad_type:", "missing:")


def field_problems(detail: dict[str, dict]) -> tuple[Counter, Counter]:
    """From bronze's per-event-type counts (pipeline.run_bronze: `reasons`, the quarantine
    reasons with their lines, and `unknown_fields`): (event_type, reason) -> lines, one
    reason per field (a line can have several), and (event_type, field) -> lines."""
    reasons: Counter = Counter()
    unknown: Counter = Counter()
    for event_type, d in detail.items():
        for reason, n in d["reasons"].items():
            for part in reason.split("; "):
                reasons[(event_type, part)] += n
        for name, n in d["unknown_fields"].items():
            unknown[(event_type, name)] += n
    return reasons, unknown


def drift_report(reasons: Counter, unknown: Counter, lines: dict[str, int]) -> dict:
    """Fields whose failures or appearances reach DRIFT_SHARE of their event type's lines.
    `lines` is raw lines per event type. Pure: the check's verdict is tested on its own."""
    changed, added = [], []
    for (event_type, reason), n in sorted(reasons.items()):
        total = lines.get(event_type, 0)
        if reason.startswith(_FIELD_REASONS) and total and n / total >= DRIFT_SHARE:
            kind, field = reason.split(":", 1)
            changed.append(
                {
                    "event_type": event_type,
                    "field": field,
                    "problem": kind,
                    "lines": n,
                    "share": round(n / total, 4),
                }
            )
    for (event_type, field), n in sorted(unknown.items()):
        total = lines.get(event_type, 0)
        share = n / total if total else 0.0
        added.append({"event_type": event_type, "field": field, "lines": n, "share": round(share, 4)})
    return {
        "changed_fields": changed,
        "unknown_fields": added,
        "drift": bool(changed) or any(a["share"] >= DRIFT_SHARE for a in added),
    }
