from __future__ import annotations

from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue


def error_check(name: str, key: AssetKey, passed: bool, **metadata) -> AssetCheckResult:
    """The result of a check of ERROR severity; lists and dicts in its metadata are shown
    as JSON."""
    return AssetCheckResult(
        check_name=name,
        asset_key=key,
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        metadata={k: MetadataValue.json(v) if isinstance(v, list | dict) else v for k, v in metadata.items()},
    )
