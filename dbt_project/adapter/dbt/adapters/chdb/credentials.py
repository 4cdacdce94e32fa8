from dataclasses import dataclass

from dbt.adapters.clickhouse.credentials import ClickHouseCredentials


@dataclass
class ChdbCredentials(ClickHouseCredentials):
    """dbt-clickhouse's credentials plus where the embedded engine keeps its data and
    which directory it may read files from (the lake, for DeltaLakeLocal sources)."""

    path: str = ""
    files_root: str | None = None
    # chDB is one engine per process: no replicas to spread over, no TCP to retry.
    retries: int = 0
    check_exchange: bool = True

    @property
    def type(self):
        return "chdb"

    @property
    def unique_field(self):
        return self.path

    def _connection_keys(self):
        return ("path", "files_root", "schema", "custom_settings")
