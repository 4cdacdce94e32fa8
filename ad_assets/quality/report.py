"""`adlake quality`: the latest check results (ad_assets.quality.results) as a short
status report, one line per layer and one per check that did not pass."""

from __future__ import annotations

from datetime import date

from dagster import AssetCheckSeverity

from spark_jobs.layers import LAYERS


def status(row: dict) -> str:
    if row["passed"]:
        return "pass"
    return "WARN" if row["severity"] == AssetCheckSeverity.WARN.value else "FAIL"


def render(rows: list[dict], day: date | None = None) -> str:
    """A short status report: counts, then one line per check that did not pass."""
    if not rows:
        if day:
            return f"no check results for arrival date {day}"
        return "no check results yet: run `make run` (or materialize a partition) first"
    first, last = min(r["partition_start"] for r in rows), max(r["partition_end"] for r in rows)
    counts = {k: sum(status(r) == k for r in rows) for k in ("pass", "WARN", "FAIL")}
    lines = [
        f"quality of arrival dates {first}..{last}: {len(rows)} checks, "
        f"{counts['pass']} passed, {counts['WARN']} warnings, {counts['FAIL']} failed "
        f"(latest run {max(r['checked_at'] for r in rows):%Y-%m-%d %H:%M} UTC)"
    ]
    # Layers in data-flow order, then any layer an older row names that this code does not.
    for layer in [*LAYERS, *sorted({r["layer"] for r in rows} - set(LAYERS))]:
        mine = [r for r in rows if r["layer"] == layer]
        if mine:
            bad = [r for r in mine if not r["passed"]]
            lines.append(f"  {layer:<7} {len(mine) - len(bad):>3}/{len(mine)} passed")
            lines += [f"    {status(r)} {r['asset']}.{r['check_name']}: {_gist(r['detail'])}" for r in bad]
    return "\n".join(lines)


def _gist(detail: str, width: int = 160) -> str:
    text = detail.replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."
