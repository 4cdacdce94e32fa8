"""dbt for the marts: dagster-dbt's DbtCliResource, minus two set-up costs per `dbt`
invocation that AdLake does not need (about 7 s of each marts step on the 2-core build
machine, measured with pyinstrument; docs/performance.md)."""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import version as installed_version
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version


class MartsDbtResource(DbtCliResource):
    """Runs the dbt of AdLake's own environment (ad_assets.defs.marts.DBT_EXECUTABLE).

    dagster-dbt 0.29 (pinned) starts each invocation by running `dbt --version` in a
    subprocess (about 4 s: dbt imports everything to print it) and by building a dbt-core
    adapter in this process (about 3 s: it parses every macro) that it uses only for
    `fetch_column_metadata` and `fetch_row_counts`, which the marts do not call. The
    executable is this environment's, so its version is the installed dbt-core's; without
    the adapter, the invocation streams events and results as before (tests/integration/
    test_marts.py runs the marts through this resource)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Any) -> None:
        return None
