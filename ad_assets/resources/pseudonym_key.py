from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableResource

DEFAULT_KEY_VERSION = "v1"


class PseudonymKeyResource(ConfigurableResource):
    """The HMAC key that turns user ids into user_pid, and its version. From the
    environment or a secret store (ADLAKE_HMAC_KEY, ADLAKE_HMAC_KEY_VERSION); on the
    embedded default, a random key generated once into a file under ADLAKE_HOME (never
    the repository), its version in a file beside it. `adlake keys rotate` replaces both
    (docs/privacy.md, "Key rotation")."""

    key: str | None = None
    key_file: str | None = None
    key_version: str | None = None  # None: the key file's version, else DEFAULT_KEY_VERSION
    salt: str | None = None  # the erasure log's salt (erasure_salt)

    def key_bytes(self) -> bytes:
        if self.key:
            return self.key.encode()
        if not self.key_file:
            raise RuntimeError("no pseudonymisation key: set ADLAKE_HMAC_KEY")
        path = Path(self.key_file)
        if not path.exists():
            _write_secret(path, secrets.token_hex(32))
        return path.read_text().strip().encode()

    def version(self) -> str:
        if self.key_version:
            return self.key_version
        if self.key_file and _version_file(Path(self.key_file)).exists():
            return _version_file(Path(self.key_file)).read_text().strip()
        return DEFAULT_KEY_VERSION

    def erasure_salt(self) -> bytes:
        """The secret that salts the erasure log's hashes of erased ids: from
        ADLAKE_ERASURE_SALT, or a random salt drawn once into a file beside the key file.
        Unlike the key it never rotates, so a request can be matched to its log row later."""
        if self.salt:
            return self.salt.encode()
        if not self.key_file:
            raise RuntimeError("no erasure salt: set ADLAKE_ERASURE_SALT")
        path = Path(self.key_file).with_name("erasure.salt")
        if not path.exists():
            _write_secret(path, secrets.token_hex(32))
        return path.read_text().strip().encode()

    def keyring(self) -> Keyring | None:
        """The key file this resource manages, or None when the key comes from outside."""
        return None if self.key or not self.key_file else Keyring(Path(self.key_file))


@dataclass(frozen=True)
class Keyring:
    """The embedded default's key file, with a rotation that survives interruption: the
    next key waits in a pending file until every table uses it, then replaces the current
    key, which is gone for good."""

    key_file: Path

    @property
    def pending_file(self) -> Path:
        return self.key_file.with_name(self.key_file.name + ".pending")

    def begin_rotation(self, current_version: str, version: str | None = None) -> tuple[bytes, str]:
        """The next key and version: the pending ones of an interrupted rotation, else new."""
        if self.pending_file.exists():
            key, pending_version = self.pending_file.read_text().split()
            if version and version != pending_version:
                raise ValueError(
                    f"a rotation to {pending_version!r} was interrupted: run it again without --version "
                    f"to finish it (or delete {self.pending_file} to abandon it)"
                )
            return key.encode(), pending_version
        version = version or next_version(current_version)
        if version == current_version:
            raise ValueError(f"the key is already at version {version!r}")
        key = secrets.token_hex(32)
        _write_secret(self.pending_file, f"{key} {version}")
        return key.encode(), version

    def finish_rotation(self) -> None:
        key, version = self.pending_file.read_text().split()
        _write_secret(self.key_file, key, replace=True)
        _write_secret(_version_file(self.key_file), version, replace=True)
        self.pending_file.unlink()


def next_version(version: str) -> str:
    """v1 -> v2; any other name gets a counter: k -> k.2."""
    m = re.fullmatch(r"v(\d+)", version)
    return f"v{int(m.group(1)) + 1}" if m else f"{version}.2"


def _version_file(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".version")


def _write_secret(path: Path, text: str, replace: bool = False) -> None:
    """Owner-only file, written whole: a replacement goes through a temporary file and a
    rename, so a crash leaves the old content or the new, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(path.name + ".tmp") if replace else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if replace else os.O_EXCL), 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    if replace:
        os.replace(target, path)
