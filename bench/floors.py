"""Floors: the least any engine must spend to take the day's raw files to a table, so the
pipeline's end-to-end time can be read as a multiple of it.

- Spark floor: a fresh Python process builds the SparkSession exactly as the product does
  (spark_jobs.session.build_spark with the product's jars), reads every raw gzip file of the
  day as text (one row per line) and writes it once as a Delta table. The whole subprocess
  is timed, session start-up included: the pipeline pays it too.
- DuckDB floor: the same files read as raw text lines (read_csv with one VARCHAR column, no
  delimiter, quote or escape) and written once to Parquet. Of the two DuckDB readings this
  is the one closest to Spark's `read.text` + one write: read_json would also parse.

    python -m bench.floors spark  <lake_root> <out> [--day YYYY-MM-DD]
    python -m bench.floors duckdb <lake_root> <out> [--day YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from bench.measure import python_exe, run_measured

ROWS_MARK = "BENCH_FLOOR_ROWS"
DUCKDB_METHOD = (
    "read_csv(columns={'line': 'VARCHAR'}, delim='\\x01', quote='', escape='') -> one Parquet file"
)


def raw_files(lake_root: str, day: str | None) -> list[str]:
    """Every raw gzip file of the arrival date (all dates when day is None)."""
    pattern = f"raw/*/dt={day or '*'}/hour=*/*.jsonl.gz"
    return sorted(str(p) for p in Path(lake_root).glob(pattern))


def spark_floor(lake_root: str, out: str, day: str | None) -> int:
    from ad_assets.settings import load_settings
    from spark_jobs.lake import Lake
    from spark_jobs.session import SparkSettings, build_spark

    files = raw_files(lake_root, day)
    if not files:
        print(f"no raw files under {lake_root}/raw for day {day}", file=sys.stderr)
        return 1
    s = load_settings()
    # What SparkResource passes (ad_assets/resources/spark.py); scratch space in `out`.
    settings = SparkSettings(
        master=s.spark_master,
        jars_dir=s.spark_jars_dir,
        driver_memory=s.spark_driver_memory,
        local_dir=f"{out}/spark-tmp",
    )
    spark = build_spark(settings, Lake(lake_root))
    spark.read.text(files).write.format("delta").mode("overwrite").save(f"{out}/delta")
    spark.stop()
    print(f"spark floor: {len(files)} files -> {out}/delta", flush=True)
    return 0


def duckdb_floor(lake_root: str, out: str, day: str | None) -> int:
    import duckdb

    files = raw_files(lake_root, day)
    if not files:
        print(f"no raw files under {lake_root}/raw for day {day}", file=sys.stderr)
        return 1
    Path(out).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    # Line order is no part of the floor's job; not preserving it lets DuckDB write while
    # its gzip readers run in parallel instead of buffering to restore the order.
    con.execute("SET preserve_insertion_order = false")
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    target = f"{out}/lines.parquet".replace("'", "''")
    # \x01 never occurs in the JSON lines: each line is one value; quote='' and escape=''
    # keep quotes and backslashes of the JSON as they are.
    (rows,) = con.execute(
        f"""COPY (SELECT line FROM read_csv({listing}, columns = {{'line': 'VARCHAR'}}, delim = '\x01',
                  quote = '', escape = '', header = false, auto_detect = false))
            TO '{target}' (FORMAT parquet)"""
    ).fetchone()
    print(f"duckdb floor: {len(files)} files, {rows} lines -> {target}", flush=True)
    print(f"{ROWS_MARK} {rows}", flush=True)
    return 0


def delta_output_rows(table: Path) -> int | None:
    """Rows the first commit wrote (from its commitInfo), without reading the table."""
    log = table / "_delta_log" / f"{0:020d}.json"
    if not log.exists():
        return None
    for line in log.read_text().splitlines():
        info = json.loads(line).get("commitInfo")
        if info:
            n = info.get("operationMetrics", {}).get("numOutputRows")
            return int(n) if n is not None else None
    return None


def measure_floors(
    lake_root: Path, day: str, work: Path, env: dict[str, str], cwd: Path, logs: Path, label: str
) -> dict[str, Any]:
    """Both floors on the run's raw files, each in a subprocess; scratch output removed after."""
    out: dict[str, Any] = {"files": len(raw_files(str(lake_root), day))}
    for engine in ("spark", "duckdb"):
        scratch = work / f"floor-{engine}"
        shutil.rmtree(scratch, ignore_errors=True)
        print(f"== [{label}] {engine} floor on {out['files']} raw files", flush=True)
        res = run_measured(
            [python_exe(), "-m", "bench.floors", engine, str(lake_root), str(scratch), "--day", day],
            label=f"{label} {engine}-floor",
            env=env,
            cwd=cwd,
            log_path=logs / f"{label}-{engine}-floor.log",
        )
        entry = res.as_dict()
        if engine == "spark":
            entry["rows"] = delta_output_rows(scratch / "delta") if res.ok else None
        else:
            entry["method"] = DUCKDB_METHOD
            marks = [ln.split()[1] for ln in res.tail if ln.startswith(ROWS_MARK)]
            entry["rows"] = int(marks[-1]) if marks else None
        out[engine] = entry
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.floors",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("engine", choices=["spark", "duckdb"])
    p.add_argument("lake_root")
    p.add_argument("out")
    p.add_argument("--day", help="arrival date whose files to read (default: every date)")
    a = p.parse_args(argv)
    fn = spark_floor if a.engine == "spark" else duckdb_floor
    return fn(str(Path(a.lake_root).resolve()), str(Path(a.out).resolve()), a.day)


if __name__ == "__main__":
    sys.exit(main())
