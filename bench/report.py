"""Bench results as JSON (everything measured), a Markdown table beside it (with the machine
and the command that reproduces it), the PASS/FAIL targets, and the README's performance
section between the markers `<!-- bench:start -->` and `<!-- bench:end -->`."""

from __future__ import annotations

import json
import operator
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"
PACKAGES = (
    "pyspark",
    "delta-spark",
    "dagster",
    "dagster-dbt",
    "dbt-core",
    "dbt-clickhouse",
    "chdb",
    "clickhouse-connect",
    "deltalake",
    "duckdb",
    "polars",
)
# The targets.
QUICK_E2E_S = 45.0
FLOOR_RATIO = {"1m": 3.0, "10m": 2.5}
HISTORY_RATIO = 1.1
MART_P95_MS = 50.0
GENERATOR_EPS = 300_000


# --- the machine ---------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))} (kernel {platform.release()})"
    except OSError:
        pass
    return platform.platform()


def _java_version() -> str:
    # The java Spark starts: JAVA_HOME's when set, else the one on PATH.
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else "java"
    try:
        p = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    lines = (p.stderr or p.stdout).strip().splitlines()
    return lines[0] if lines else "unknown"


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": _os_name(),
        "python": platform.python_version(),
        "java": _java_version(),
        "packages": {p: _version(p) for p in PACKAGES},
    }


def git_revision(repo: Path) -> str | None:
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return None
    return f"{head}{' (uncommitted changes)' if dirty else ''}" if head else None


# --- targets ---------------------------------------------------------------------------------


OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge}


def _target(name: str, value: float | None, op: str, limit: float, unit: str, note: str = "") -> dict:
    status = "n/a" if value is None else "PASS" if OPS[op](value, limit) else "FAIL"
    return {
        "name": name,
        "value": value,
        "op": op,
        "limit": limit,
        "unit": unit,
        "status": status,
        "note": note,
    }


def _ok_wall(run: dict | None) -> float | None:
    return run["wall_s"] if run and run.get("returncode") == 0 else None


def evaluate_targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets on what this invocation measured; a run that failed has no value
    and so fails its target, a phase that was skipped is n/a."""
    out = []
    scales = r.get("scales", {})
    for name, s in scales.items():
        run = s.get("run")
        failed = run is not None and run.get("returncode") != 0
        if name == "quick":
            t = _target("quick end-to-end", _ok_wall(run), "<=", QUICK_E2E_S, "s")
            out.append({**t, "status": "FAIL"} if failed else t)
        if name in FLOOR_RATIO:
            ratio = (s.get("floors") or {}).get("ratio_spark")
            eps = (run or {}).get("events_per_s")
            t = _target(
                f"{name} end-to-end / Spark floor",
                ratio,
                "<=",
                FLOOR_RATIO[name],
                "x",
                f"{eps:,.0f} events/s end to end" if eps else "",
            )
            out.append({**t, "status": "FAIL"} if failed else t)
    h = r.get("history")
    if h:
        volume = f"{h.get('impressions_per_day') or 0:,} impressions/day"
        t = _target("day 30 / day 1 wall", h.get("ratio"), "<=", HISTORY_RATIO, "x", volume)
        out.append({**t, "status": "FAIL"} if h.get("ratio") is None and h.get("failed") else t)
    p95 = [
        (f"{where} {q}", v["p95_ms"])
        for where, qs in _query_sets(r)
        for q, v in qs.items()
        if isinstance(v, dict) and "p95_ms" in v
    ]
    if p95:
        worst = max(p95, key=lambda x: x[1])
        out.append(_target("mart query p95 (worst)", worst[1], "<", MART_P95_MS, "ms", worst[0]))
    for name, s in scales.items():
        g = s.get("generator")
        if g:
            out.append(
                _target(f"generator events/s ({name})", g.get("events_per_s"), ">=", GENERATOR_EPS, "/s")
            )
    return out


def _query_sets(r: dict[str, Any]) -> list[tuple[str, dict]]:
    sets = [(name, s["queries"]) for name, s in r.get("scales", {}).items() if s.get("queries")]
    if (r.get("history") or {}).get("queries"):
        sets.append(("history (30 days)", r["history"]["queries"]))
    return sets


# --- formatting ------------------------------------------------------------------------------


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} s"


def _n(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _gib(v: int | None) -> str:
    return "-" if not v else f"{v / 2**30:.2f} GiB"


def _value(t: dict) -> str:
    v = t["value"]
    if v is None:
        return "-"
    return f"{v:,.0f} {t['unit']}" if t["unit"] == "/s" else f"{v:.2f} {t['unit']}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def targets_table(r: dict[str, Any]) -> list[str]:
    rows = [
        [t["name"], _value(t), f"{t['op']} {t['limit']:,g} {t['unit']}", f"**{t['status']}**", t["note"]]
        for t in r.get("targets", [])
    ]
    return _table(["target", "measured", "bound", "status", "note"], rows)


def scales_table(r: dict[str, Any]) -> list[str]:
    rows = []
    for name, s in r.get("scales", {}).items():
        run, f, g = s.get("run") or {}, s.get("floors") or {}, s.get("generator") or {}
        rows.append(
            [
                name,
                _n(s.get("impressions_per_day")),
                _n(run.get("raw_lines")),
                _s(run.get("wall_s")) + ("" if run.get("returncode") in (0, None) else " (failed)"),
                _n(run.get("events_per_s")),
                _gib(run.get("peak_rss_bytes")),
                _s((f.get("spark") or {}).get("wall_s")),
                _x(f.get("ratio_spark")),
                _s((f.get("duckdb") or {}).get("wall_s")),
                _x(f.get("ratio_duckdb")),
                _n(g.get("events_per_s")),
            ]
        )
    header = [
        "scale",
        "impressions/day",
        "raw lines",
        "end-to-end",
        "events/s",
        "peak RSS",
        "Spark floor",
        "e2e/Spark",
        "DuckDB floor",
        "e2e/DuckDB",
        "generator events/s",
    ]
    return _table(header, rows)


def steps_table(run: dict[str, Any]) -> list[str]:
    rows = [
        [
            st["step"],
            _s(st.get("wall_s")),
            _n(st.get("rows")),
            _n(st.get("events_per_s")),
            st.get("status") or "-",
        ]
        for st in run.get("steps", [])
    ]
    rows.append(
        ["Dagster run (RUN_START to end)", _s(run.get("dagster_run_s")), "", "", run.get("status") or "-"]
    )
    rows.append(
        [
            "subprocess end to end",
            _s(run.get("wall_s")),
            _n(run.get("raw_lines")),
            _n(run.get("events_per_s")),
            "",
        ]
    )
    return _table(["step", "wall", "rows", "rows/s", "status"], rows)


def history_table(h: dict[str, Any]) -> list[str]:
    runs = [(k, h[k]) for k in ("day1", "days2_29", "day30") if h.get(k)]
    steps = sorted({st["step"] for _, run in runs for st in run.get("steps", [])}, key=_step_order)
    header = ["run", "end-to-end", "Dagster run", *steps]
    rows = []
    for k, run in runs:
        by = {st["step"]: st.get("wall_s") for st in run.get("steps", [])}
        wall = _s(run.get("wall_s")) + ("" if run.get("returncode") == 0 else " (failed)")
        rows.append([k, wall, _s(run.get("dagster_run_s")), *[_s(by.get(s)) for s in steps]])
    ratios = h.get("step_ratios", {})
    rows.append(
        ["day30/day1", _x(h.get("ratio")), _x(h.get("dagster_ratio")), *[_x(ratios.get(s)) for s in steps]]
    )
    return _table(header, rows)


def queries_table(r: dict[str, Any]) -> list[str]:
    rows = []
    for where, qs in _query_sets(r):
        for q, v in qs.items():
            if isinstance(v, dict) and "p50_ms" in v:
                rows.append(
                    [
                        where,
                        q,
                        _n(v["rows"]),
                        f"{v['p50_ms']:.1f}",
                        f"{v['p95_ms']:.1f}",
                        f"{v['max_ms']:.1f}",
                    ]
                )
            else:
                rows.append([where, q, "-", "-", "-", str(v)])
    return _table(["data", "query", "rows", "p50 ms", "p95 ms", "max ms"], rows)


_ORDER = ("raw_logs", "bronze", "silver", "gold", "marts")


def _step_order(step: str) -> tuple[int, str]:
    return next((i for i, p in enumerate(_ORDER) if step.startswith(p)), len(_ORDER)), step


def machine_lines(m: dict[str, Any]) -> list[str]:
    pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    return [
        f"- CPU: {m['cpu_model']}, {m['logical_cores']} logical cores ({m['physical_cores']} physical)",
        f"- memory: {m['memory_gib']} GiB; OS: {m['os']}",
        f"- Python {m['python']}; Java: {m['java']}",
        f"- {pk}",
    ]


MEANING = """\
What the numbers mean:
- **end-to-end**: wall time of the `adlake run` subprocess for one arrival date, from a fresh
  `ADLAKE_HOME`: interpreter and definitions load, generating the raw files (`raw_logs`),
  Spark start-up, bronze, silver, gold, `dbt build` of the marts, every asset check and the
  closing summary. **events/s** = raw log lines of the day / end-to-end.
- **steps**: Dagster's own STEP_START to STEP_SUCCESS/FAILURE per step (multi-assets are one
  step each); **rows** are what the step's materializations report (`generated_lines` for
  raw, `rows` for bronze incl. quarantine, `rows_inserted` for silver, `rows_in_window` for
  gold); steps without a row count (dbt, checks) show `-`.
- **peak RSS**: the largest sum of RSS over the process tree (Python, Spark's JVM, dbt),
  sampled every 0.2 s.
- **Spark floor**: a fresh process that builds the product's SparkSession, reads the same raw
  files as text and writes them once as a Delta table (session start included).
  **DuckDB floor**: the same files read as text lines and written once to Parquet.
  **e2e/floor**: how many times the floor the whole pipeline costs.
- **generator events/s**: `adlake generate` for the same day, lines written / seconds of the
  generate call (imports excluded; the subprocess wall time is in the JSON).
- **day 30 / day 1**: in one home, day 1, then days 2-29 as one range run, then day 30
  alone (same daily volume, same world); the end-to-end walls of day 30 and day 1.
- **mart queries**: four dashboard queries on the embedded ClickHouse (chDB) in one open
  client, one warm-up then timed runs including fetching the rows; p50/p95 per query.
"""


def render_markdown(r: dict[str, Any]) -> str:
    out = [
        f"# AdLake bench {r['date']} (`--scale {r['scale']}`)",
        "",
        f"Reproduce: `{r['command']}` (or `make bench BENCH_SCALE={r['scale']}`), at commit "
        f"{r.get('git') or 'unknown'}; seed {r['seed']}, arrival date {r['start']}; "
        f"total bench time {_s(r.get('bench_wall_s'))}.",
        "",
        "Machine:",
        "",
        *machine_lines(r["machine"]),
        "",
        "## Targets",
        "",
        *targets_table(r),
        "",
        "## Scales",
        "",
        *scales_table(r),
        "",
    ]
    for name, s in r.get("scales", {}).items():
        if s.get("run"):
            out += [f"### Steps at `{name}`", "", *steps_table(s["run"]), ""]
    if r.get("history"):
        h = r["history"]
        out += [
            f"## Day 30 vs day 1 ({_n(h.get('impressions_per_day'))} impressions/day)",
            "",
            *history_table(h),
            "",
        ]
    if _query_sets(r):
        out += ["## Mart queries (chDB, one client)", "", *queries_table(r), ""]
    out += [MEANING]
    return "\n".join(out)


def readme_section(r: dict[str, Any], md_name: str) -> str:
    return "\n".join(
        [
            f"`make bench` (`{r['command']}`) on {r['date']}, commit {r.get('git') or 'unknown'}; "
            f"full results in `bench/results/{md_name}`.",
            "",
            *machine_lines(r["machine"]),
            "",
            *scales_table(r),
            "",
            *targets_table(r),
        ]
    )


def write_results(r: dict[str, Any], results_dir: Path) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{r['date']}-{r['scale']}"
    jpath, mpath = results_dir / f"{stem}.json", results_dir / f"{stem}.md"
    jpath.write_text(json.dumps(r, indent=2, default=str) + "\n")
    mpath.write_text(render_markdown(r))
    return jpath, mpath


def update_readme(readme: Path, section: str) -> bool:
    """Replace what lies between the markers; False (README untouched) without them."""
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        return False
    readme.write_text(pattern.sub(lambda _: f"{README_START}\n{section}\n{README_END}", text, count=1))
    return True
