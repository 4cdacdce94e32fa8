from __future__ import annotations

from datetime import timedelta

from dagster import AssetExecutionContext, BackfillPolicy, DailyPartitionsDefinition

from ad_assets.settings import load_settings
from spark_jobs.layers import ArrivalWindow

# Partitions are arrival dates: processing day D loads the files that arrived on D and
# corrects the event dates D-2..D downstream (events arrive up to 48 h late).
daily_partitions = DailyPartitionsDefinition(start_date=load_settings().start_date)
# A backfill of a range runs as one Spark job over the whole range.
single_run = BackfillPolicy.single_run()


def window_of(context: AssetExecutionContext) -> ArrivalWindow:
    tw = context.partition_time_window
    return ArrivalWindow(tw.start.date(), (tw.end - timedelta(days=1)).date())
