"""Dashboard queries on the marts, timed on the embedded engine (chDB) through the product's
ClickHouse resource, i.e. the client `adlake sql` and the summary use. Runs in a process of
its own (`python -m bench.queries`, ADLAKE_HOME set): chDB admits one data directory per
process and the bench opens several homes.

Each query gets one warm-up, then N timed runs in ONE open client; a run includes fetching
the result rows into Python, as a dashboard backend would."""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from typing import Any

RESULT_MARK = "BENCH_QUERIES"

# The latest event date in the marts anchors every window (a dashboard's "today").
_LAST = "(SELECT max(event_date) FROM marts.campaign_daily)"

QUERIES: dict[str, str] = {
    # The KPI tiles: the last days' platform totals with their day-over-day changes.
    "kpi_overview": """
        SELECT event_date, impressions, clicks, conversions, spend, revenue, ctr, cvr, cpc, cpm, roas,
               impressions_change, clicks_change, spend_change, ctr_change, roas_change
        FROM marts.kpi_overview ORDER BY event_date DESC LIMIT 7""",
    # One campaign's daily series over 30 days (the campaign picked before timing).
    "campaign_daily_30d": f"""
        SELECT event_date, impressions, clicks, conversions, spend, revenue, ctr, cvr, cpc, cpm, roas
        FROM marts.campaign_daily
        WHERE campaign_id = {{campaign}} AND event_date > {_LAST} - 30
        ORDER BY event_date""",
    # Ranking: top 10 campaigns by spend over the last 7 days, ratios from the sums.
    "top_campaigns": f"""
        SELECT advertiser_id, campaign_id, sum(impressions) AS imps, sum(clicks) AS clks,
               sum(conversions) AS convs, sum(spend_micros) / 1e6 AS cost, sum(revenue_micros) / 1e6 AS rev,
               if(imps = 0, NULL, clks / imps) AS ctr_7d, if(cost = 0, NULL, rev / cost) AS roas_7d
        FROM marts.campaign_daily
        WHERE event_date > {_LAST} - 7
        GROUP BY advertiser_id, campaign_id
        ORDER BY cost DESC LIMIT 10""",
    # Dayparting: the hourly curve of the latest event date over all campaigns.
    "hourly_curve": """
        SELECT event_hour, sum(impressions) AS imps, sum(clicks) AS clks, sum(spend_micros) / 1e6 AS cost,
               if(imps = 0, NULL, clks / imps) AS ctr_h
        FROM marts.campaign_hourly
        WHERE event_date = (SELECT max(event_date) FROM marts.campaign_hourly)
        GROUP BY event_hour ORDER BY event_hour""",
}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): with 50 runs p95 is the 48th fastest."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))]


def time_queries(runs: int = 50) -> dict[str, Any]:
    from ad_assets.resources.clickhouse import ClickHouseResource
    from ad_assets.settings import load_settings

    out: dict[str, Any] = {}
    with ClickHouseResource.from_settings(load_settings()).client() as client:
        top = client.query(
            f"SELECT campaign_id FROM marts.campaign_daily WHERE event_date > {_LAST} - 30 "
            "GROUP BY campaign_id ORDER BY sum(spend_micros) DESC LIMIT 1"
        ).result_rows
        campaign = "'" + str(top[0][0]).replace("'", "''") + "'" if top else "''"
        for name, sql in QUERIES.items():
            sql = sql.replace("{campaign}", campaign)
            rows = len(client.query(sql).result_rows)  # warm-up: caches, marks, query plan
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                client.query(sql).result_rows  # noqa: B018  (fetching the rows is part of the cost)
                times.append((time.perf_counter() - t) * 1000)
            out[name] = {
                "rows": rows,
                "runs": runs,
                "p50_ms": round(statistics.median(times), 2),
                "p95_ms": round(percentile(times, 95), 2),
                "max_ms": round(max(times), 2),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.queries", description=__doc__)
    p.add_argument("--runs", type=int, default=50)
    a = p.parse_args(argv)
    print(f"{RESULT_MARK} {json.dumps(time_queries(a.runs))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
