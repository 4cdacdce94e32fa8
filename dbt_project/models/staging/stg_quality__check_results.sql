SELECT
    assumeNotNull(partition_start)::Date AS partition_start,
    assumeNotNull(partition_end)::Date AS partition_end,
    assumeNotNull(layer)::LowCardinality(String) AS layer,
    assumeNotNull(asset)::LowCardinality(String) AS asset,
    assumeNotNull(check_name)::String AS check_name,
    assumeNotNull(passed)::Bool AS passed,
    assumeNotNull(severity)::LowCardinality(String) AS severity,
    detail,
    assumeNotNull(run_id)::String AS run_id,
    assumeNotNull(checked_at)::DateTime64(6) AS checked_at
FROM {{ source('quality', 'check_results') }}
