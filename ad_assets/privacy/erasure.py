"""Erasing users (docs/privacy.md, "Erasure"): every trace of a set of raw user ids goes
from every layer, the aggregates they fed are rebuilt, and a rescan proves it.

A request is a file under ADLAKE_HOME/erasure (owner-only) holding the ids, so that the
ids never enter Dagster's run storage or logs: the job's config names the request, not
the users. The file is also the request's progress: the plan (which raw lines go, which
event dates to rebuild) is written into it before anything is deleted, and a rerun of an
interrupted request follows the same plan. Once the rescan finds nothing, the file is
deleted; from then on only the salted hashes in the erasure log remain.

The steps, each safe to repeat:
1. plan: event dates of the users' silver rows; raw lines that mention them;
2. Delta tables: one tagged commit per table deletes their rows (bronze and quarantine by
   raw line and raw id, silver and the audience tables by pseudonym) and renumbers the
   lines after removed ones;
3. raw files rewritten without their lines;
4. gold, the attribution evaluation and the marts rebuilt for the dates they touched;
5. every touched table purged and VACUUMed with no retention;
6. rescan: every data and log file of every Delta table, every raw file, every mart;
7. one row per user in the erasure log (privacy/erasure_log)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from ad_assets.privacy.pseudonyms import hmac_hex, pseudonym
from ad_assets.resources.pseudonym_key import PseudonymKeyResource
from spark_jobs.contracts import EVENT_TYPES
from spark_jobs.delta_io import replace_where
from spark_jobs.erasure import (
    ERASABLE,
    ERASURE_LOG,
    PRIVACY,
    REMOVED_LINES_SCHEMA,
    compact_log,
    count_subject_rows,
    data_file_mentions,
    delta_tables,
    erase_rows,
    event_dates,
    log_mentions,
    purge_and_vacuum,
    values_frame,
)
from spark_jobs.gold_tables import GOLD_TABLES
from spark_jobs.lake import Lake
from spark_jobs.layers import EVALUATION, GOLD, ArrivalWindow
from spark_jobs.raw_erasure import RawFile, find_lines, needles, raw_files, rewrite_without, split_lines
from spark_jobs.rekey import covering_window

Log = Callable[[str], None]
# Rebuilds gold, the evaluation and the marts for a window (the Dagster asset's resources).
Rebuild = Callable[[ArrivalWindow], None]
# Searches the marts: {(table, column): rows holding any of the marks}.
MartScan = Callable[[list[str]], dict[tuple[str, str], int]]

ERASURE_LOG_SCHEMA = (
    "request_id string, subject_hash string, requested_at timestamp, erased_at timestamp, "
    "found boolean, raw_lines_found bigint, tables_touched array<string>, "
    "rows_removed map<string,bigint>, raw_files_rewritten int, raw_lines_removed bigint, "
    "event_dates_rebuilt string, files_vacuumed map<string,bigint>, "
    "versions_vacuumed map<string,bigint>, verified boolean, leftovers string"
)


# ---------------------------------------------------------------- requests
@dataclass
class Request:
    path: Path
    request_id: str
    user_ids: list[str]
    requested_at: str
    plan: dict | None = None
    # What the runs of this request have done so far, for its log row.
    progress: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Request:
        doc = json.loads(path.read_text())
        return cls(
            path,
            doc["request_id"],
            doc["user_ids"],
            doc["requested_at"],
            doc.get("plan"),
            doc.get("progress", {}),
        )

    def add(self, figure: str, n: int, table: str | None = None) -> None:
        """Count n more of a figure (per table when given), kept in the request file."""
        if table is None:
            self.progress[figure] = self.progress.get(figure, 0) + n
        else:
            per_table = self.progress.setdefault(figure, {})
            per_table[table] = per_table.get(table, 0) + n
        self.save()

    def save(self) -> None:
        doc = {k: v for k, v in asdict(self).items() if k != "path"}
        _write_private(self.path, json.dumps(doc))


def new_request(directory: Path, user_ids: list[str]) -> Path:
    """Write a request for these ids; its path (the file name is the request id)."""
    ids = sorted({u.strip() for u in user_ids if u.strip()})
    if not ids:
        raise ValueError("no user id to erase")
    request_id = uuid.uuid4().hex
    path = directory / f"{request_id}.json"
    Request(path, request_id, ids, datetime.now(UTC).isoformat()).save()
    return path


def pending_requests(directory: Path) -> list[Path]:
    """The requests not yet verified (interrupted, or with traces left), oldest first."""
    return sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime) if directory.exists() else []


def request_path(directory: Path, request: str) -> Path:
    """A request named by its id (or its file's path)."""
    path = Path(request) if request.endswith(".json") else directory / f"{request}.json"
    if not path.exists():
        raise FileNotFoundError(f"no erasure request {request!r} in {directory}")
    return path


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(temporary, path)


def subject_hash(salt: bytes, user_id: str) -> str:
    """The erasure log's name for an erased id."""
    return hmac_hex(salt, user_id)


# ---------------------------------------------------------------- the operation
@dataclass(frozen=True)
class ErasureReport:
    """What a request did over all its runs (Request.progress), and the rescan's verdict."""

    request_id: str
    found: dict[str, int]  # subject hash -> raw lines that mentioned the user
    rows_removed: dict[str, int]  # per table
    raw_files_rewritten: int
    raw_lines_removed: int
    rebuilt: tuple[date, date] | None  # event dates
    files_vacuumed: dict[str, int]  # per table
    versions_vacuumed: dict[str, int]  # per table: versions no longer readable
    leftovers: dict[str, int]  # where a trace was still found

    @classmethod
    def of(cls, req: Request, rebuilt: tuple[date, date] | None, leftovers: dict[str, int]) -> ErasureReport:
        done = req.progress
        return cls(
            req.request_id,
            req.plan["found"],
            done.get("rows_removed", {}),
            done.get("raw_files_rewritten", 0),
            done.get("raw_lines_removed", 0),
            rebuilt,
            done.get("files_vacuumed", {}),
            done.get("versions_vacuumed", {}),
            leftovers,
        )

    @property
    def verified(self) -> bool:
        return not self.leftovers


def erase(
    spark: SparkSession,
    lake: Lake,
    key: PseudonymKeyResource,
    path: Path,
    rebuild: Rebuild,
    scan_marts: MartScan,
    log: Log = print,
) -> ErasureReport:
    """Carries out (or resumes) the request at `path`; see the module's steps."""
    req = Request.load(path)
    pids = [pseudonym(key.key_bytes(), u) for u in req.user_ids]
    salt = key.erasure_salt()
    subjects = {
        "raw_line": values_frame(spark, [m.decode() for m in needles(req.user_ids)]),
        "user_id": values_frame(spark, req.user_ids),
        "user_pid": values_frame(spark, pids),
    }
    if req.plan is None:
        req.plan = _plan(spark, lake, req.user_ids, pids, salt, log)
        req.plan["rows"] = count_subject_rows(spark, lake, subjects)
        req.save()
    touched = _erase_from_tables(spark, lake, req, subjects, log)
    _erase_from_raw(lake, req, log)
    rebuilt = None
    if req.plan["first"]:
        rebuilt = date.fromisoformat(req.plan["first"]), date.fromisoformat(req.plan["last"])
        log(f"rebuilding gold, the evaluation and the marts for event dates {rebuilt[0]}..{rebuilt[1]}")
        rebuild(covering_window(*rebuilt))
        touched |= {(GOLD, n) for n in GOLD_TABLES} | {(EVALUATION, "attribution_accuracy")}
    _vacuum(spark, lake, req, touched & set(delta_tables(lake)), [*req.user_ids, *pids], log)
    report = ErasureReport.of(req, rebuilt, rescan(spark, lake, req.user_ids, pids, scan_marts, log))
    write_log(spark, lake, req, report, salt)
    if report.verified:
        path.unlink()
        log(f"erasure {req.request_id} verified: no trace left; the request file is deleted")
    else:
        log(f"erasure {req.request_id} NOT complete, traces left in: {sorted(report.leftovers)}")
    return report


def _erase_from_tables(
    spark: SparkSession, lake: Lake, req: Request, subjects: dict[str, DataFrame], log: Log
) -> set[tuple[str, str]]:
    """Step 2: the tagged commit of each erasable table; the tables to VACUUM."""
    plan = req.plan
    if not plan["raw"] and not plan["rows"]:
        log("nothing to erase: no raw line and no row holds these users")
        return set()
    removed = spark.createDataFrame(
        [(f["source_file"], n) for f in plan["raw"] if f["readable"] for n in f["lines"]],
        REMOVED_LINES_SCHEMA,
    ).persist()
    touched = set()
    for table in ERASABLE:
        n = erase_rows(
            spark, lake, table, subjects[table.subject], removed, f"adlake-erasure {req.request_id}"
        )
        log(f"  {table.label}: " + ("erased by an earlier run" if n is None else f"{n:,} rows deleted"))
        if n is not None:
            req.add("rows_removed", n, table.label)
        if n != 0:  # rows deleted now, or by an interrupted run that may not have vacuumed
            touched.add((table.layer, table.name))
    removed.unpersist()
    return touched


def _erase_from_raw(lake: Lake, req: Request, log: Log) -> None:
    """Step 3: the planned raw files rewritten without the users' lines."""
    for f in req.plan["raw"]:
        raw = RawFile(f["path"], f["source_file"], f["event_type"], f["readable"])
        n = rewrite_without(lake, raw, req.user_ids)
        if n:
            req.add("raw_files_rewritten", 1)
            req.add("raw_lines_removed", n)
    log(f"  raw: {req.progress.get('raw_lines_removed', 0):,} lines removed from the raw files")


def _vacuum(
    spark: SparkSession, lake: Lake, req: Request, tables: set[tuple[str, str]], marks: list[str], log: Log
) -> None:
    """Step 5: purge and VACUUM; then drop old log entries that still name a user (tables
    made before ids were kept out of statistics)."""
    for layer, name in sorted(tables):
        done = purge_and_vacuum(spark, lake, layer, name, log)
        req.add("files_vacuumed", done.files_deleted, f"{layer}.{name}")
        req.add("versions_vacuumed", done.versions_unreadable, f"{layer}.{name}")
    for label in log_mentions(lake, sorted(tables), marks):
        layer, name = label.split(".", 1)
        n = compact_log(spark, lake, layer, name)
        log(f"  {label}: {n} log files before the current version deleted (they named an erased user)")


def _plan(
    spark: SparkSession, lake: Lake, user_ids: list[str], pids: list[str], salt: bytes, log: Log
) -> dict:
    """Step 1: the users' event dates in silver, and per raw file the lines that mention
    them; raw lines found per user, by salted hash."""
    log(f"planning the erasure of {len(user_ids)} user(s)")
    dates = event_dates(spark, lake, values_frame(spark, pids))
    marks = {u: needles([u])[0] for u in user_ids}
    found = dict.fromkeys(user_ids, 0)
    files = []
    for raw, _, text in raw_files(lake, EVENT_TYPES):
        if not any(m in text for m in marks.values()):
            continue
        lines = []
        for i, line in enumerate(split_lines(text), 1):
            hits = [u for u, m in marks.items() if m in line]
            for u in hits:
                found[u] += 1
            if hits:
                lines.append(i)
        files.append({**asdict(raw), "lines": lines})
    return {
        "first": dates[0].isoformat() if dates else None,
        "last": dates[1].isoformat() if dates else None,
        "raw": files,
        "found": {subject_hash(salt, u): n for u, n in found.items()},
    }


def rescan(
    spark: SparkSession, lake: Lake, user_ids: list[str], pids: list[str], scan_marts: MartScan, log: Log
) -> dict[str, int]:
    """Step 6, `erasure_complete`: {where: how many rows, files or lines still hold one of
    the users}, over every data and log file of every Delta table, every raw file, every
    mart."""
    marks = [*user_ids, *pids]
    tables = delta_tables(lake)
    log(f"rescanning {len(tables)} Delta tables (every file), the raw files and the marts")
    left: dict[str, int] = {}
    for (table, column), n in data_file_mentions(lake, tables, marks).items():
        left[f"{table}.{column}"] = n
    for table, n in log_mentions(lake, tables, marks).items():
        left[f"{table}._delta_log"] = n
    for raw, lines in find_lines(lake, EVENT_TYPES, user_ids).items():
        left[f"raw:{raw.source_file}"] = len(lines)
    for (table, column), n in scan_marts(marks).items():
        left[f"{table}.{column}"] = n
    return left


def write_log(spark: SparkSession, lake: Lake, req: Request, report: ErasureReport, salt: bytes) -> None:
    """One row per user of the request (replacing the rows of an earlier run of it)."""
    now = datetime.now(UTC)
    rows = [
        (
            req.request_id,
            subject_hash(salt, u),
            datetime.fromisoformat(req.requested_at),
            now,
            bool(report.found.get(subject_hash(salt, u))),
            report.found.get(subject_hash(salt, u), 0),
            sorted(t for t, n in report.rows_removed.items() if n),
            report.rows_removed,
            report.raw_files_rewritten,
            report.raw_lines_removed,
            f"{report.rebuilt[0]}..{report.rebuilt[1]}" if report.rebuilt else None,
            report.files_vacuumed,
            report.versions_vacuumed,
            report.verified,
            json.dumps(report.leftovers, sort_keys=True),
        )
        for u in req.user_ids
    ]
    df = spark.createDataFrame(rows, ERASURE_LOG_SCHEMA)
    replace_where(df, lake.table(PRIVACY, ERASURE_LOG), f"request_id = '{req.request_id}'", ())
