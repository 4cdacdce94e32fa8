"""Where the dashboard reads the marts, without ever holding the embedded engine.

- `SnapshotSource` (embedded target): the Parquet snapshot the marts step publishes after
  each dbt build (ad_assets/marts_snapshot.py), queried with ClickHouse's engine through a
  chDB session of this process's own (a temporary data directory, never the pipeline's).
  Each mart is a view over its file; the views move to a new snapshot when CURRENT does.
- `ServerSource` (server target): the ClickHouse server, as its read-only dashboard user.

Both answer the same ClickHouse SQL over `marts.*` (dashboard/queries.py) and a version
that changes whenever the marts do: the key of the dashboard's query cache.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import pandas as pd

from ad_assets import marts_snapshot
from spark_jobs.lake import Lake


class NoMartsYet(RuntimeError):
    """The marts were never built here: nothing to show yet."""


class MartsSource(Protocol):
    target: str

    def version(self) -> str | None: ...

    def query(self, sql: str) -> pd.DataFrame: ...

    def lake_table(self, lake: Lake, layer: str, name: str) -> pd.DataFrame | None:
        """A Delta table of the lake (None when it does not exist yet)."""
        ...


class SnapshotSource:
    target = "embedded (marts snapshot)"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()  # one chDB session, used by one query at a time
        self._session = None
        self._bound: str | None = None

    def version(self) -> str | None:
        snap = marts_snapshot.current(self.root)
        return snap.version if snap else None

    def _bind(self) -> None:
        snap = marts_snapshot.current(self.root)
        if snap is None:
            raise NoMartsYet(f"no marts snapshot at {self.root}: build the marts first (`make run`)")
        if snap.version == self._bound:
            return
        if self._session is None:
            from chdb import session  # imported on first use: a second of startup otherwise

            self._session = session.Session()
            self._session.query("CREATE DATABASE IF NOT EXISTS marts")
        for mart in snap.rows:
            path = str(snap.file(mart).resolve()).replace("'", "\\'")
            self._session.query(
                f"CREATE OR REPLACE VIEW marts.`{mart}` AS SELECT * FROM file('{path}', Parquet)"
            )
        self._bound = snap.version

    def query(self, sql: str) -> pd.DataFrame:
        with self._lock:
            self._bind()
            return self._session.query(sql, "DataFrame")  # type: ignore[union-attr]

    def lake_table(self, lake: Lake, layer: str, name: str) -> pd.DataFrame | None:
        # Through chDB's own Delta reader, not delta-rs: a process that loads both engines
        # can hang when it exits (seen with chDB 4.4 and deltalake 1.6). chDB reads local
        # files under its working directory only: `adlake dashboard` starts in the lake.
        if lake.is_s3:
            raise NotImplementedError("the embedded dashboard reads a local lake (S3: a ClickHouse server)")
        path = Path(lake.table(layer, name))
        if not (path / "_delta_log").is_dir():
            return None
        quoted = str(path.resolve()).replace("'", "\\'")
        with self._lock:
            self._bind()
            return self._session.query(f"SELECT * FROM deltaLakeLocal('{quoted}')", "DataFrame")  # type: ignore[union-attr]


class ServerSource:
    target = "ClickHouse server"

    def __init__(self, host: str, port: int, user: str, password: str, secure: bool) -> None:
        import clickhouse_connect

        self._client = clickhouse_connect.get_client(
            host=host, port=port, username=user, password=password, secure=secure
        )
        self._lock = threading.Lock()  # a clickhouse-connect client runs one query at a time

    def version(self) -> str | None:
        # Any insert, merge or rebuild of a mart changes its parts.
        sql = (
            "SELECT toString(max(modification_time)), count(), sum(rows) FROM system.parts "
            "WHERE database = 'marts' AND active"
        )
        with self._lock:
            latest, parts, rows = self._client.query(sql).result_rows[0]
        return None if parts == 0 else f"{latest}/{parts}/{rows}"

    def query(self, sql: str) -> pd.DataFrame:
        with self._lock:
            return self._client.query_df(sql)

    def lake_table(self, lake: Lake, layer: str, name: str) -> pd.DataFrame | None:
        # No chDB in this process: delta-rs reads the lake (local or S3) directly.
        from spark_jobs.lake_read import open_table, table_exists

        if not table_exists(lake, layer, name):
            return None
        return open_table(lake, layer, name).to_pyarrow_table().to_pandas()
