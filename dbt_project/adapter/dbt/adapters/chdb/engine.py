"""Opening the embedded ClickHouse engine (chDB) through clickhouse-connect, with the two
things chDB needs that a server does not:

- One process at a time may open a data directory. A second one fails with an opaque
  "Error initializing EmbeddedServer"; we turn that into EngineBusyError naming the
  directory and the holder's PID (ClickHouse writes it into `<path>/status`, locked with
  flock while the engine is open).
- ClickHouse only reads local files (here: Delta tables through `DeltaLakeLocal`) under
  its `user_files_path`, which chDB fixes to the current working directory and resolves
  when a table is created or loaded. Each call therefore runs with the working directory
  set to `files_root` (the lake), under a process-wide lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ProgrammingError

_cwd_lock = threading.RLock()
# Paths this process has open: chDB shares one engine between clients of the same path,
# and our own flock would otherwise look like another process's.
_open_paths: dict[str, int] = {}


class EngineBusyError(RuntimeError):
    """The chDB data directory is open in another process."""


def lock_holder(path: str | Path) -> str | None:
    """None when nobody holds the engine at `path`; otherwise a description of the holder."""
    status = Path(path) / "status"
    if not status.exists():
        return None
    with open(status, "rb") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            first = f.read().decode(errors="replace").splitlines()[:1]
            return first[0].strip() if first else "another process"
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return None


def busy_message(path: str | Path, holder: str) -> str:
    return (
        f"The embedded ClickHouse engine at {path} is in use by another process ({holder}). "
        "chDB lets one process at a time open its data directory: wait for the running "
        "dbt build or `adlake sql` to finish, then retry."
    )


@contextmanager
def in_files_root(files_root: str | None) -> Iterator[None]:
    if not files_root:
        yield
        return
    with _cwd_lock:
        previous = os.getcwd()
        os.chdir(files_root)
        try:
            yield
        finally:
            os.chdir(previous)


class EmbeddedClient:
    """A clickhouse-connect client on chDB whose calls run inside `files_root`."""

    def __init__(self, path: str, files_root: str | None = None, **kwargs: Any) -> None:
        self.path = str(Path(path).resolve())
        # A lake that does not exist yet has nothing to read: no directory to run in.
        root = Path(files_root) if files_root else None
        self.files_root = str(root.resolve()) if root and root.is_dir() else None
        with _cwd_lock:
            ours = _open_paths.get(self.path, 0) > 0
            holder = None if ours else lock_holder(self.path)
            if holder:
                raise EngineBusyError(busy_message(self.path, holder))
            Path(self.path).mkdir(parents=True, exist_ok=True)
            try:
                with in_files_root(self.files_root):
                    self._client = clickhouse_connect.get_client(interface="chdb", path=self.path, **kwargs)
            except ProgrammingError as ex:
                holder = None if ours else lock_holder(self.path)
                if holder:  # lost a race with another process
                    raise EngineBusyError(busy_message(self.path, holder)) from ex
                raise
            _open_paths[self.path] = _open_paths.get(self.path, 0) + 1
            self._closed = False

    def query(self, sql: str, **kwargs: Any):
        with in_files_root(self.files_root):
            return self._client.query(sql, **kwargs)

    def raw_query(self, sql: str, **kwargs: Any) -> bytes:
        with in_files_root(self.files_root):
            return self._client.raw_query(sql, **kwargs)

    def command(self, sql: str, **kwargs: Any):
        with in_files_root(self.files_root):
            return self._client.command(sql, **kwargs)

    @property
    def database(self) -> str | None:
        return self._client.database

    @database.setter
    def database(self, value: str | None) -> None:
        self._client.database = value

    @property
    def server_version(self) -> str:
        return self._client.server_version

    @property
    def server_settings(self) -> dict:
        return self._client.server_settings

    def close(self) -> None:
        with _cwd_lock:
            if self._closed:
                return
            self._closed = True
            _open_paths[self.path] -= 1
            self._client.close()

    def __enter__(self) -> EmbeddedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
