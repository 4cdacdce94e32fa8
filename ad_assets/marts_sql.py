"""Ad-hoc SQL over the ClickHouse marts (`adlake sql`), on the embedded engine or a
server, with ClickHouse's own pretty output and one-line errors instead of tracebacks."""

from __future__ import annotations

import os

from clickhouse_connect.driver.exceptions import ClickHouseError
from dbt.adapters.chdb.engine import EngineBusyError

from ad_assets.resources.clickhouse import ClickHouseResource
from ad_assets.settings import Settings


class SqlError(Exception):
    pass


def run_sql(settings: Settings, query: str, fmt: str = "PrettyCompactMonoBlock") -> str:
    try:
        password = os.environ.get("ADLAKE_CLICKHOUSE_PASSWORD")
        with ClickHouseResource.from_settings(settings, password).client() as client:
            return client.raw_query(query, fmt=fmt).decode()
    except EngineBusyError as ex:
        raise SqlError(str(ex)) from None
    except ClickHouseError as ex:
        raise SqlError(first_line(str(ex))) from None


def first_line(message: str) -> str:
    """ClickHouse errors carry the server's stack trace and version after the first line."""
    line = message.strip().splitlines()[0] if message.strip() else message
    return line.split(". (", 1)[0] + "." if ". (" in line else line
