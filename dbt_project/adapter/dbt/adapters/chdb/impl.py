from dbt.adapters.chdb.connections import ChdbConnectionManager
from dbt.adapters.clickhouse.impl import ClickHouseAdapter


class ChdbAdapter(ClickHouseAdapter):
    """dbt-clickhouse with the embedded engine underneath; every macro and
    materialization is dbt-clickhouse's (see the plugin's dependencies)."""

    ConnectionManager = ChdbConnectionManager
