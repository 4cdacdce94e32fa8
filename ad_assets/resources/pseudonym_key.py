from __future__ import annotations

import os
import secrets
from pathlib import Path

from dagster import ConfigurableResource


class PseudonymKeyResource(ConfigurableResource):
    """The HMAC key that turns user ids into user_pid. From the environment or a secret
    store (ADLAKE_HMAC_KEY); on the embedded default, a random key generated once into a
    file under ADLAKE_HOME (never the repository)."""

    key: str | None = None
    key_file: str | None = None
    key_version: str = "v1"

    def key_bytes(self) -> bytes:
        if self.key:
            return self.key.encode()
        if not self.key_file:
            raise RuntimeError("no pseudonymisation key: set ADLAKE_HMAC_KEY")
        path = Path(self.key_file)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip().encode()
