"""Runs started by `adlake` in this process, and the clean-up after one that was killed.

A run killed outright (SIGKILL, OOM killer, a lost machine) never reports its end: the
instance keeps it as STARTED and keeps the concurrency slots it held in the pools
("spark", "chdb"), so the next run of the same steps would wait for them forever. Each
`adlake` run is tagged with its host and PID; before a new run starts, runs of this host
whose process is gone are marked failed and their slots freed."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

HOST_TAG, PID_TAG = "adlake/host", "adlake/pid"


def run_tags() -> dict[str, str]:
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _alive(pid: int) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # Linux: also rule out a recycled PID
        return b"ad_assets" in cmdline.read_bytes() or b"adlake" in cmdline.read_bytes()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_abandoned_runs(instance: DagsterInstance) -> list[str]:
    """Mark this host's STARTED runs whose process is gone as failed and free their pool
    slots; returns their run ids."""
    released = []
    started = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED]))
    for run in started:
        tags = run.tags
        if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
            continue
        pid = int(tags[PID_TAG])
        if pid == os.getpid() or _alive(pid):
            continue
        instance.report_run_failed(run, message=f"the process of this run (PID {pid}) is gone: it was killed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    return released
