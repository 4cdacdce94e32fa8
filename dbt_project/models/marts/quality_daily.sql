{{ config(materialized='table', partition_by=none, order_by='(arrival_date, layer)') }}
-- Per arrival date and layer: how many checks ran and how they ended, by the latest
-- evaluation of each check on that date (a rerun's result replaces the earlier one,
-- whether it ran for the day alone or in a range). Results of the run that builds this
-- mart arrive for its bronze, silver and gold checks; its own dbt tests and the chain
-- check show up in the next build.
WITH by_day AS (
    -- A run over a range of arrival dates judged each of them.
    SELECT
        arrayJoin(arrayMap(i -> partition_start + i, range(toUInt32(partition_end - partition_start) + 1)))
            AS arrival_date,
        layer,
        asset,
        check_name,
        passed,
        severity,
        checked_at
    FROM {{ ref('stg_quality__check_results') }}
),
latest AS (
    SELECT
        arrival_date,
        layer,
        asset,
        check_name,
        argMax(passed, checked_at) AS is_passed,
        argMax(severity, checked_at) AS last_severity,
        max(checked_at) AS last_checked_at
    FROM by_day
    GROUP BY arrival_date, layer, asset, check_name
)
SELECT
    arrival_date,
    layer,
    count() AS checks,
    countIf(is_passed) AS passed,
    countIf(NOT is_passed AND last_severity = 'WARN') AS warnings,
    countIf(NOT is_passed AND last_severity != 'WARN') AS failures,
    arrayStringConcat(arraySort(groupArrayIf(asset || '.' || check_name, NOT is_passed)), ', ') AS not_passed,
    max(last_checked_at) AS last_checked_at
FROM latest
GROUP BY arrival_date, layer
