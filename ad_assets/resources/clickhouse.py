"""Where the marts live: the embedded ClickHouse engine (chDB, a directory under
ADLAKE_HOME) or a ClickHouse server. Both are reached through clickhouse-connect with one
API, so `adlake sql`, the summary and the tests read marts the same way on either."""

from __future__ import annotations

from typing import Any

import clickhouse_connect
from dagster import ConfigurableResource
from dbt.adapters.chdb.engine import EmbeddedClient, busy_message, lock_holder
from pydantic import Field

from ad_assets.settings import Settings


class ClickHouseResource(ConfigurableResource):
    target: str = Field(default="embedded", description="embedded (chDB) or server")
    chdb_path: str = Field(description="the embedded engine's data directory")
    files_root: str | None = Field(default=None, description="lake root chDB may read from")
    snapshot_path: str = Field(default="", description="where the marts' Parquet snapshot is published")
    host: str = "127.0.0.1"
    port: int = 8123
    user: str = "default"
    password: str | None = None
    secure: bool = False

    @classmethod
    def from_settings(cls, s: Settings, password: Any = None) -> ClickHouseResource:
        return cls(
            target=s.clickhouse_target,
            chdb_path=s.chdb_path,
            files_root=s.lake_root,
            snapshot_path=str(s.marts_snapshot_path),
            host=s.clickhouse_host,
            port=s.clickhouse_port,
            user=s.clickhouse_user,
            password=password,
            secure=s.clickhouse_secure,
        )

    @property
    def embedded(self) -> bool:
        return self.target == "embedded"

    def client(self) -> Any:
        """An open client; close it when done (chDB admits one process at a time)."""
        if self.embedded:  # an s3:// lake root is no local directory: EmbeddedClient ignores it
            return EmbeddedClient(self.chdb_path, files_root=self.files_root)
        return clickhouse_connect.get_client(
            host=self.host,
            port=self.port,
            username=self.user,
            password=self.password or "",
            secure=self.secure,
        )

    def busy(self) -> str | None:
        """A message when another process holds the embedded engine, else None."""
        if not self.embedded:
            return None
        holder = lock_holder(self.chdb_path)
        return busy_message(self.chdb_path, holder) if holder else None
