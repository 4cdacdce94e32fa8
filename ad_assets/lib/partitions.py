from __future__ import annotations

import functools
from datetime import date, timedelta

from dagster import AssetExecutionContext, BackfillPolicy, DailyPartitionsDefinition

from spark_jobs.layers import ArrivalWindow


@functools.cache
def daily_partitions(start_date: str) -> DailyPartitionsDefinition:
    """Partitions are arrival dates from `start_date` (Settings.start_date): processing day D
    loads the files that arrived on D and corrects the event dates D-2..D downstream
    (events arrive up to 48 h late). One object per start date, shared by every asset."""
    return DailyPartitionsDefinition(start_date=start_date)


# A backfill of a range runs as one Spark job over the whole range.
single_run = BackfillPolicy.single_run()

# The run tags that make one run cover a range of partitions, as a single-run backfill
# does. Dagster 1.13 defines them only in a private module (dagster._core.storage.tags:
# ASSET_PARTITION_RANGE_START_TAG, ASSET_PARTITION_RANGE_END_TAG) and exports no public
# name, so their values are spelled out here, once.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_range_tags(start: date, end: date) -> dict[str, str]:
    """Tags for one run over the arrival dates start..end (both included)."""
    return {PARTITION_RANGE_START_TAG: start.isoformat(), PARTITION_RANGE_END_TAG: end.isoformat()}


def window_of(context: AssetExecutionContext) -> ArrivalWindow:
    tw = context.partition_time_window
    return ArrivalWindow(tw.start.date(), (tw.end - timedelta(days=1)).date())
