"""Short, stable hashes of settings: an asset's code version, so Dagster shows which
partitions were built under other settings. Pure Python."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping


def fingerprint(settings: Mapping[str, object]) -> str:
    """12 hex characters of SHA-256 over the settings as canonical JSON (sorted keys)."""
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]
