"""The user pseudonym (docs/privacy.md), in plain Python for code outside Spark: the
erasure's search and the prediction API compute the same user_pid silver writes
(spark_jobs/silver.py `pseudonymise`: HMAC-SHA256 of the raw user id, hex)."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

KEY_ENV = "ADLAKE_HMAC_KEY"


def hmac_hex(secret: bytes, user_id: str) -> str:
    """HMAC-SHA256 of a raw user id, hex: the pseudonym under the key, the erasure log's
    subject hash under its salt."""
    return hmac.new(secret, user_id.encode(), hashlib.sha256).hexdigest()


def pseudonym(key: bytes, user_id: str) -> str:
    return hmac_hex(key, user_id)


def read_key(home: Path) -> bytes | None:
    """The pseudonymisation key as the pipeline uses it: ADLAKE_HMAC_KEY, else the key file
    under ADLAKE_HOME (never created here: only the pipeline draws a key); None if neither."""
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].encode()
    path = home / "secrets" / "hmac.key"
    return path.read_text().strip().encode() if path.exists() else None
