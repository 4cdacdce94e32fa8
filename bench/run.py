"""`make bench`: AdLake's throughput with the real engines, against floors and targets.

Per scale (quick ~100k raw lines, 1m ~1M, 10m ~10M for one arrival date, fixed seed):
the generator alone, then the product's own `adlake run` in a subprocess on a fresh
ADLAKE_HOME (wall time, peak RSS of the process tree, Dagster's per-step times and rows),
then the Spark and DuckDB floors on the same raw files, then dashboard queries on the marts.
Then the history: day 30 against day 1 at the same daily volume in one home. Results go to
bench/results/<date>-<scale>.json and .md; --readme also rewrites the README's section.

    python -m bench.run --scale quick|1m|10m|all [--skip-history] [--skip-floors] [--readme]
    python -m bench.run --readme          # README from the newest results, nothing run
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench import report
from bench.floors import measure_floors
from bench.measure import dagster_timings, python_exe, run_id_from_output, run_measured

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SCALES = {"quick": 16_000, "1m": 160_000, "10m": 1_600_000}  # impressions/day; ~6 raw lines each
START = date(2026, 11, 1)
SEED = 42
HISTORY_DAYS = 30
# The history ends the day before START: every day of it is a past (existing) partition.
HISTORY_START = START - timedelta(days=HISTORY_DAYS)
# Anything that would point the product away from the bench's fresh home, or change the
# world it simulates, is dropped from the inherited environment (make exports ADLAKE_HOME).
STRIPPED_ENV = (
    "ADLAKE_HOME",
    "ADLAKE_LAKE_ROOT",
    "ADLAKE_CHDB_PATH",
    "ADLAKE_ENV",
    "ADLAKE_RAW_SOURCE",
    "ADLAKE_CLICKHOUSE_TARGET",
    "ADLAKE_S3_ENDPOINT",
    "ADLAKE_START_DATE",
    "ADLAKE_IMPRESSIONS_PER_DAY",
    "ADLAKE_SEED",
    "DAGSTER_HOME",
)


RECORDED_ENV = (
    "ADLAKE_SPARK_MASTER",
    "ADLAKE_SPARK_DRIVER_MEMORY",
    "ADLAKE_SPARK_JARS_DIR",
    "ADLAKE_CACHE",
    "ADLAKE_MIN_FREE_MB",
    "JAVA_HOME",
)


def bench_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
    # OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads (numpy, chDB) must not spin on 2 cores.
    env.update(ADLAKE_HOME=str(home), ADLAKE_SEED=str(SEED), DO_NOT_TRACK="1", OMP_WAIT_POLICY="PASSIVE")
    env.update(extra)
    return env


def phase(label: str, what: str) -> None:
    print(f"\n== [{label}] {what}  ({time.strftime('%H:%M:%S')})", flush=True)


# --- the phases ------------------------------------------------------------------------------

GEN_WROTE = re.compile(r"wrote (\d+) files, ([\d.]+) MB in")
GEN_LINES = re.compile(r"^\s+(\w+)\s+([\d,]+) lines$")


def bench_generator(label: str, impressions: int, work: Path, logs: Path) -> dict[str, Any]:
    out = work / "generated"
    shutil.rmtree(out, ignore_errors=True)
    phase(label, f"generator alone: {impressions:,} impressions/day, 1 day")
    cmd = [python_exe(), "-m", "bench.adlake_cmd", "generate", "--start", START.isoformat(), "--days", "1"]
    cmd += ["--impressions-per-day", str(impressions), "--seed", str(SEED), "--out", str(out)]
    res = run_measured(
        cmd,
        label=f"{label} generate",
        env=bench_env(work / "gen-home"),
        cwd=REPO,
        log_path=logs / f"{label}-generate.log",
    )
    shutil.rmtree(out, ignore_errors=True)
    lines = {m.group(1): int(m.group(2).replace(",", "")) for ln in res.tail if (m := GEN_LINES.match(ln))}
    wrote = next((m for ln in res.tail if (m := GEN_WROTE.search(ln))), None)
    secs = next((float(ln.split()[1]) for ln in res.tail if ln.startswith("BENCH_GENERATE_SECONDS")), None)
    total = sum(lines.values())
    return {
        **res.as_dict(),
        "generate_s": secs,
        "lines": lines,
        "total_lines": total,
        "files": int(wrote.group(1)) if wrote else None,
        "mb": float(wrote.group(2)) if wrote else None,
        "events_per_s": round(total / secs) if res.ok and secs else None,
    }


def measured_run(cmd: list[str], label: str, home: Path, env: dict[str, str], logs: Path) -> dict[str, Any]:
    """A pipeline subprocess plus what its Dagster instance recorded about it."""
    res = run_measured(cmd, label=label, env=env, cwd=REPO, log_path=logs / f"{label.replace(' ', '-')}.log")
    out: dict[str, Any] = res.as_dict()
    try:
        out.update(dagster_timings(home / "dagster", run_id_from_output(res.tail)))
    except Exception as ex:  # a run that died before Dagster's storage existed
        out["dagster_error"] = f"{type(ex).__name__}: {ex}"
    raw = next((st["rows"] for st in out.get("steps", []) if st["step"] == "raw_logs"), None)
    out["raw_lines"] = raw
    out["events_per_s"] = round(raw / res.wall_s) if raw and res.ok else None
    if not res.ok:
        print(
            f"!! [{label}] exited with {res.returncode}; last lines:\n" + "\n".join(res.tail[-30:]),
            flush=True,
        )
    return out


def bench_queries(label: str, home: Path, env: dict[str, str], logs: Path, runs: int) -> dict[str, Any]:
    phase(label, f"mart queries: 4 dashboard queries, 1 warm-up + {runs} runs each")
    res = run_measured(
        [python_exe(), "-m", "bench.queries", "--runs", str(runs)],
        label=f"{label} queries",
        env=env,
        cwd=REPO,
        log_path=logs / f"{label.replace(' ', '-')}-queries.log",
    )
    marks = [ln.split(" ", 1)[1] for ln in res.tail if ln.startswith("BENCH_QUERIES ")]
    return json.loads(marks[-1]) if res.ok and marks else {"error": res.text()[-500:]}


def bench_scale(name: str, work: Path, logs: Path, a: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    impressions = SCALES[name]
    w = work / name
    home = w / "home"
    shutil.rmtree(w, ignore_errors=True)
    out: dict[str, Any] = {"impressions_per_day": impressions}
    ok = True
    out["generator"] = bench_generator(name, impressions, w, logs)

    phase(name, f"adlake run: {START} x 1 day, {impressions:,} impressions/day, fresh home {home}")
    cmd = [python_exe(), "-m", "ad_assets.cli", "run", "--start", START.isoformat(), "--days", "1"]
    cmd += ["--impressions-per-day", str(impressions)]
    env = bench_env(home)
    run = measured_run(cmd, f"{name} run", home, env, logs)
    out["run"] = run
    print(
        f"== [{name}] end-to-end {run['wall_s']:.1f} s, {run.get('raw_lines') or 0:,} raw lines, "
        f"{run.get('events_per_s') or 0:,} events/s, peak RSS {run['peak_rss_bytes'] / 2**30:.2f} GiB",
        flush=True,
    )
    if not a.skip_floors:
        f = measure_floors(home / "lake", START.isoformat(), w, env, REPO, logs, name)
        for engine in ("spark", "duckdb"):
            e = f.get(engine) or {}
            ok = run["returncode"] == 0 and e.get("returncode") == 0
            f[f"ratio_{engine}"] = round(run["wall_s"] / e["wall_s"], 3) if ok else None
        out["floors"] = f
        if f["spark"]["returncode"] != 0 or f["duckdb"]["returncode"] != 0:
            ok = False
            print(f"!! [{name}] a floor failed: see {logs}/{name}-*-floor.log", flush=True)
        print(
            f"== [{name}] Spark floor {f['spark']['wall_s']:.1f} s (e2e/floor {f['ratio_spark']}), "
            f"DuckDB floor {f['duckdb']['wall_s']:.1f} s (e2e/floor {f['ratio_duckdb']})",
            flush=True,
        )
    if run["returncode"] == 0:
        out["queries"] = bench_queries(name, home, env, logs, a.query_runs)
    ok = (
        ok
        and run["returncode"] == 0
        and out["generator"]["returncode"] == 0
        and "error" not in out.get("queries", {})
    )
    if ok and not a.keep:
        shutil.rmtree(w, ignore_errors=True)
    elif not ok:
        print(f"!! [{name}] home kept for inspection: {home}", flush=True)
    return out, ok


def bench_history(work: Path, logs: Path, a: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """Day 1, days 2..29 as one range, day 30 alone: one home, one world started on day 1
    (ADLAKE_START_DATE), each through `adlake run`."""
    label = "history"
    impressions = a.history_impressions
    w = work / label
    home = w / "home"
    shutil.rmtree(w, ignore_errors=True)
    env = bench_env(home, ADLAKE_START_DATE=HISTORY_START.isoformat())
    out: dict[str, Any] = {"impressions_per_day": impressions, "home": str(home)}
    plan = [("day1", HISTORY_START, 1), ("days2_29", HISTORY_START + timedelta(days=1), HISTORY_DAYS - 2)]
    plan.append(("day30", HISTORY_START + timedelta(days=HISTORY_DAYS - 1), 1))
    for key, start, days in plan:
        end = start + timedelta(days=days - 1)
        phase(label, f"{key}: arrival dates {start}..{end}, {impressions:,} impressions/day")
        cmd = [python_exe(), "-m", "ad_assets.cli", "run", "--start", start.isoformat(), "--days", str(days)]
        cmd += ["--impressions-per-day", str(impressions)]
        out[key] = measured_run(cmd, f"{label} {key}", home, env, logs)
        print(f"== [{label}] {key}: {out[key]['wall_s']:.1f} s", flush=True)
        if out[key]["returncode"] != 0:
            out["failed"] = key
            print(f"!! [{label}] home kept for inspection: {home}", flush=True)
            return out, False
    d1, d30 = out["day1"], out["day30"]
    out["ratio"] = round(d30["wall_s"] / d1["wall_s"], 3)
    if d1.get("dagster_run_s") and d30.get("dagster_run_s"):
        out["dagster_ratio"] = round(d30["dagster_run_s"] / d1["dagster_run_s"], 3)
    first = {st["step"]: st.get("wall_s") for st in d1.get("steps", [])}
    out["step_ratios"] = {
        st["step"]: round(st["wall_s"] / first[st["step"]], 3)
        for st in d30.get("steps", [])
        if st.get("wall_s") and first.get(st["step"])
    }
    print(f"== [{label}] day 30 / day 1 = {out['ratio']:.2f} (per step: {out['step_ratios']})", flush=True)
    out["queries"] = bench_queries(label, home, env, logs, a.query_runs)
    if "error" in out["queries"]:
        print(f"!! [{label}] mart queries failed; home kept for inspection: {home}", flush=True)
        return out, False
    if not a.keep:
        shutil.rmtree(w, ignore_errors=True)
    return out, True


# --- the command -----------------------------------------------------------------------------


def readme_from(results_json: Path) -> int:
    r = json.loads(results_json.read_text())
    if report.update_readme(
        REPO / "README.md", report.readme_section(r, results_json.with_suffix(".md").name)
    ):
        print(f"README.md performance section rewritten from {results_json}")
        return 0
    print(f"README.md has no {report.README_START} ... {report.README_END} markers: left untouched")
    return 1


def print_targets(r: dict[str, Any]) -> None:
    print("\nTargets:")
    for t in r["targets"]:
        v = "-" if t["value"] is None else f"{t['value']:,.0f}" if t["unit"] == "/s" else f"{t['value']:,.2f}"
        note = f"  ({t['note']})" if t["note"] else ""
        print(f"  {t['status']:<4}  {t['name']:<34} {v:>14} {t['unit']:<3} {t['op']} {t['limit']:,g}{note}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--scale", choices=[*SCALES, "all"], help="all = quick, 1m, 10m and the history once")
    p.add_argument("--skip-history", action="store_true", help="no day 30 vs day 1 runs")
    p.add_argument("--skip-floors", action="store_true", help="no Spark and DuckDB floors")
    p.add_argument("--skip-stream", action="store_true", help="no real-time figures (bench/stream_speed.py)")
    p.add_argument(
        "--skip-prediction", action="store_true", help="no prediction API figures (bench/prediction_speed.py)"
    )
    p.add_argument(
        "--skip-dashboard", action="store_true", help="no dashboard page times (bench/dashboard_speed.py)"
    )
    p.add_argument("--readme", action="store_true", help="rewrite README.md's performance section")
    p.add_argument(
        "--history-impressions", type=int, default=SCALES["quick"], help="daily volume of the history"
    )
    p.add_argument("--query-runs", type=int, default=50, help="timed runs per mart query")
    p.add_argument("--keep", action="store_true", help="keep the homes (lake, marts) under --workdir")
    p.add_argument("--workdir", type=Path, default=REPO / "bench" / "work", help="where the fresh homes go")
    a = p.parse_args(argv)
    if a.scale is None:
        if not a.readme:
            p.error("--scale is required (or --readme alone: README from the newest results)")
        newest = sorted(RESULTS.glob("*.json"), key=lambda f: f.stat().st_mtime)
        if not newest:
            p.error(f"no results in {RESULTS} yet: run with --scale first")
        return readme_from(newest[-1])

    t0 = time.perf_counter()
    work = (a.workdir / time.strftime("%Y%m%d-%H%M%S")).resolve()
    logs = work / "logs"
    scales = list(SCALES) if a.scale == "all" else [a.scale]
    print(f"AdLake bench: scales {', '.join(scales)}, work dir {work} (logs in {logs})", flush=True)
    r: dict[str, Any] = {
        "date": date.today().isoformat(),
        "scale": a.scale,
        "command": shlex.join([".venv/bin/python", "-m", "bench.run", *argv]),
        "git": report.git_revision(REPO),
        "seed": SEED,
        "start": START.isoformat(),
        "machine": report.machine(),
        # Settings inherited from the environment that change the numbers (never secrets).
        "env": {k: os.environ[k] for k in RECORDED_ENV if k in os.environ},
        "scales": {},
    }
    ok = True

    def save() -> tuple[Path, Path]:
        r["bench_wall_s"] = round(time.perf_counter() - t0, 1)
        r["targets"] = report.evaluate_targets(r)
        return report.write_results(r, RESULTS)

    try:
        for name in scales:
            r["scales"][name], scale_ok = bench_scale(name, work, logs, a)
            ok &= scale_ok
            save()
        if not a.skip_history:
            r["history"], hist_ok = bench_history(work, logs, a)
            ok &= hist_ok
        if not a.skip_stream and a.scale == "all":
            from bench import stream_speed

            phase("stream", "Kafka -> Spark Structured Streaming -> Redis at 100k events/s, then the ladder")
            r["stream"] = stream_speed.measure(100_000, 60, ladder=True)
            ok &= r["stream"]["at_rate"]["counters_match"]
        if not a.skip_prediction and a.scale == "all":
            from bench import prediction_speed

            # Over the model `make run` promoted in the user's home (the bench's homes hold
            # one day each: too few to train on).
            home = Path(os.environ.get("ADLAKE_HOME", REPO / ".adlake"))
            phase("prediction", f"the prediction API over {home}'s model, wrk at 10 and 50 connections")
            r["prediction"] = prediction_speed.measure(home)
        if not a.skip_dashboard and a.scale == "all":
            from bench import dashboard_speed

            home = Path(os.environ.get("ADLAKE_HOME", REPO / ".adlake"))
            phase("dashboard", f"every dashboard page over {home}'s marts, cold then warm, in Chromium")
            r["dashboard"] = dashboard_speed.measure(home)
            ok &= r["dashboard"]["meets_target"]
    finally:  # an interrupted bench still leaves what it measured
        jpath, mpath = save()
    print_targets(r)
    print(f"\nResults: {jpath}\n         {mpath}  (bench took {r['bench_wall_s']:.0f} s)")
    if a.readme:
        readme_from(jpath)
    print(f"Logs of every subprocess: {logs}")
    return 0 if ok and all(t["status"] != "FAIL" for t in r["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
