"""What `make run` prints at the end: rows per table and a few campaign metrics, read with
delta-rs (deltalake), a second engine over the tables Spark wrote; then the ClickHouse
marts dbt built, read through ClickHouse."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from tabulate import tabulate

from ad_assets.marts_sql import first_line
from ad_assets.quality import report, results
from ad_assets.resources.clickhouse import ClickHouseResource
from spark_jobs.gold_tables import DAILY
from spark_jobs.lake import Lake
from spark_jobs.lake_read import LAKE_TABLES, open_table
from spark_jobs.layers import GOLD
from spark_jobs.metric_definitions import ADDITIVE_METRICS, COUNT_METRICS, MICROS, MONEY_METRICS, RATIOS


def table_rows(lake: Lake) -> list[tuple[str, int, int]]:
    out = []
    for layer, name in LAKE_TABLES:
        dt = open_table(lake, layer, name)
        out.append((f"{layer}_{name}", dt.version(), dt.to_pyarrow_dataset().count_rows()))
    return out


def campaign_totals(lake: Lake, top: int = 5) -> pa.Table:
    """Top campaigns by spend over every event date in gold, with ratios from the sums."""
    daily = open_table(lake, GOLD, DAILY).to_pyarrow_table()
    sums = daily.group_by(["campaign_id"]).aggregate([(c, "sum") for c in ADDITIVE_METRICS])
    sums = sums.rename_columns([c.removesuffix("_sum") for c in sums.column_names])
    for money, micros in MONEY_METRICS.items():
        sums = sums.append_column(money, pc.divide(pc.cast(sums[micros], pa.float64()), MICROS))
    for name, (num, den, scale) in RATIOS.items():
        n = pc.multiply(pc.cast(sums[num], pa.float64()), scale)
        d = pc.cast(sums[den], pa.float64())
        sums = sums.append_column(name, pc.if_else(pc.equal(d, 0), None, pc.divide(n, d)))
    return sums.sort_by([("spend", "descending")]).slice(0, top)


KPI_COLUMNS = ("event_date", "impressions", "clicks", "conversions", "spend", "ctr", "impressions_change")


def marts_section(clickhouse: ClickHouseResource) -> list[str]:
    from ad_assets.defs.marts import mart_keys  # the dbt project's marts (reads its manifest)

    try:
        with clickhouse.client() as client:
            counts = [
                (f"marts.{m}", client.command(f"SELECT count() FROM marts.{m}")) for m in sorted(mart_keys())
            ]
            kpi = client.query(
                f"SELECT {', '.join(KPI_COLUMNS)} FROM marts.kpi_overview ORDER BY event_date DESC LIMIT 3"
            ).result_rows
    except Exception as ex:  # the summary must not hide the lake's numbers behind this
        return [f"Marts: unavailable ({first_line(str(ex))})"]
    return [
        f"ClickHouse marts ({clickhouse.target}):",
        tabulate(counts, headers=["mart", "rows"], tablefmt="github"),
        "",
        "Latest days (marts.kpi_overview; *_change = against the day before):",
        tabulate(kpi, headers=KPI_COLUMNS, tablefmt="github", floatfmt=".4f"),
        "",
    ]


def render(lake: Lake, clickhouse: ClickHouseResource | None = None) -> str:
    rows = table_rows(lake)
    top = campaign_totals(lake)
    cols = ["campaign_id", *COUNT_METRICS, *MONEY_METRICS, *RATIOS]
    top_rows = [[r[c] for c in cols] for r in top.select(cols).to_pylist()]
    return "\n".join(
        [
            "Tables (Delta version, rows):",
            tabulate(rows, headers=["table", "version", "rows"], tablefmt="github"),
            "",
            "Top campaigns by spend (all event dates, valid traffic, last-click conversions):",
            tabulate(top_rows, headers=cols, tablefmt="github", floatfmt=".4f"),
            "",
            *(marts_section(clickhouse) if clickhouse else []),
            "Data quality (adlake quality):",
            report.render(results.latest_results(lake)),
            "",
            f"Lake: {lake.spark_path()}",
        ]
    )
