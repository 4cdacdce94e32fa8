"""The marts for readers that must never hold the embedded engine (docs/dashboards.md).

chDB lets one process at a time open its data directory, so a dashboard that kept it open
would make the next dbt build fail. Instead, the marts step publishes every mart as a
Parquet file after each successful `dbt build`, into a new version folder, and then moves
the `CURRENT` pointer to it in one rename: a reader sees the whole previous snapshot or the
whole new one, never a mix, and never blocks the pipeline. The dashboard reads the files
with ClickHouse's engine in its own process (a chDB session of its own); the alerts read
them with pyarrow. With a ClickHouse server (docker, AWS), readers query the server instead.

Pure Python (pyarrow): services import it without Dagster, Spark or dbt.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

POINTER = "CURRENT"
MANIFEST = "manifest.json"
# Older versions stay a while for readers that resolved the pointer just before it moved.
KEEP_VERSIONS = 3


class _RawClient(Protocol):
    def raw_query(self, sql: str, **kwargs: Any) -> bytes: ...


@dataclass(frozen=True)
class Snapshot:
    version: str
    path: Path
    created_at: str
    rows: dict[str, int]  # mart -> rows

    def file(self, mart: str) -> Path:
        if mart not in self.rows:
            raise KeyError(
                f"mart {mart!r} is not in snapshot {self.version} ({', '.join(sorted(self.rows))})"
            )
        return self.path / f"{mart}.parquet"

    def table(self, mart: str) -> pa.Table:
        return pq.read_table(self.file(mart))


def publish(client: _RawClient, root: Path, marts: Iterable[str], label: str = "") -> Snapshot:
    """Export each mart (database `marts`) to Parquet in a new version folder, then point
    CURRENT at it. `label` (e.g. the run id) makes the version name traceable."""
    now = datetime.now(UTC)
    version = now.strftime("v%Y%m%dT%H%M%S%fZ") + (f"-{label[:8]}" if label else "")
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{version}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    rows = {}
    for mart in sorted(marts):
        data = client.raw_query(f"SELECT * FROM marts.`{mart}` FORMAT Parquet")
        (staging / f"{mart}.parquet").write_bytes(data)
        rows[mart] = pq.ParquetFile(staging / f"{mart}.parquet").metadata.num_rows
    (staging / MANIFEST).write_text(
        json.dumps({"version": version, "created_at": now.isoformat(), "rows": rows})
    )
    staging.rename(root / version)
    pointer_tmp = root / f".{POINTER}.{os.getpid()}"
    pointer_tmp.write_text(version)
    os.replace(pointer_tmp, root / POINTER)  # atomic: readers see the old or the new version
    _prune(root, version)
    return current(root)  # type: ignore[return-value]


def current(root: Path) -> Snapshot | None:
    """The snapshot CURRENT points at, or None before the first marts build."""
    try:
        version = (root / POINTER).read_text().strip()
    except FileNotFoundError:
        return None
    path = root / version
    meta = json.loads((path / MANIFEST).read_text())
    return Snapshot(version=version, path=path, created_at=meta["created_at"], rows=meta["rows"])


def _prune(root: Path, keep: str) -> None:
    versions = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("v"))
    for old in versions[:-KEEP_VERSIONS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".*.tmp"):  # a publish that died half-way
        if stale.name != f".{keep}.tmp":
            shutil.rmtree(stale, ignore_errors=True)
