"""Measuring a command the way the bench needs it: wall time of the subprocess, peak RSS of
its whole process tree (the Python driver, Spark's JVM, dbt), its output streamed with a
prefix, and the per-step timings and row counts Dagster recorded for the run."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

SAMPLE_S = 0.2  # RSS sampling period: the JVM grows in bursts, 0.2 s catches them
HEARTBEAT_S = 10.0  # say we are alive when the child has printed nothing for this long

# Materialization metadata that counts rows, in order of preference (what each layer writes:
# bronze `rows`, silver `rows_inserted`, gold `rows_in_window`, raw `generated_lines`).
ROW_KEYS = ("rows", "rows_inserted", "rows_in_window", "dagster/row_count", "rows_affected")


@dataclass
class ProcResult:
    label: str
    cmd: list[str]
    returncode: int
    wall_s: float
    peak_rss_bytes: int
    log_path: str
    tail: list[str] = field(default_factory=list)  # last lines, to show why it failed

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def text(self) -> str:
        return "\n".join(self.tail)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cmd": self.cmd,
            "returncode": self.returncode,
            "wall_s": round(self.wall_s, 3),
            "peak_rss_bytes": self.peak_rss_bytes,
            "log": self.log_path,
        }


def tree_rss(proc: psutil.Process) -> int:
    """Sum of RSS over the process and all its descendants (shared pages count twice:
    a slight over-estimate, but the JVM's heap dominates and is private)."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):  # exited between listing and reading
            total += p.memory_info().rss
    return total


def run_measured(
    cmd: list[str],
    *,
    label: str,
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    echo: bool = True,
    tail_lines: int = 400,
) -> ProcResult:
    """Run `cmd` to completion; stream its output as `[label] line`, keep all of it in
    `log_path`, sample the tree's RSS every 0.2 s and print a heartbeat when it is silent."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=tail_lines)
    last_output = [time.monotonic()]
    peak = [0]
    done = threading.Event()
    t0 = time.perf_counter()
    # A session of its own so that Ctrl-C on the bench can end the child's whole tree
    # (the JVM included) by its process group, not by name.
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
        start_new_session=True,
    )

    def read() -> None:
        assert proc.stdout is not None
        with open(log_path, "w") as log:
            for line in proc.stdout:
                line = line.rstrip("\n")
                log.write(line + "\n")
                tail.append(line)
                last_output[0] = time.monotonic()
                if echo:
                    print(f"  [{label}] {line}", flush=True)

    def sample() -> None:
        try:
            ps = psutil.Process(proc.pid)
        except psutil.Error:  # already gone: nothing to sample
            return
        next_beat = time.monotonic() + HEARTBEAT_S
        while not done.wait(SAMPLE_S):
            peak[0] = max(peak[0], tree_rss(ps))
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + HEARTBEAT_S
                if now - last_output[0] >= HEARTBEAT_S or not echo:
                    print(
                        f"  [{label}] ... running {time.perf_counter() - t0:.0f} s, "
                        f"peak RSS so far {peak[0] / 2**30:.2f} GiB",
                        flush=True,
                    )

    reader = threading.Thread(target=read, daemon=True)
    sampler = threading.Thread(target=sample, daemon=True)
    reader.start()
    sampler.start()
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        _end_group(proc)
        raise
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    reader.join(timeout=10)
    return ProcResult(label, cmd, rc, wall, peak[0], str(log_path), list(tail))


def _end_group(proc: subprocess.Popen) -> None:
    """Stop the child we started, and everything it started, by its process group id."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


RUN_ID_RE = re.compile(r"\(run ([0-9a-f-]{36})\)")


def run_id_from_output(lines: list[str]) -> str | None:
    """`adlake run` ends with 'Done in Ns (run <id>).'"""
    for line in reversed(lines):
        m = RUN_ID_RE.search(line)
        if m:
            return m.group(1)
    return None


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return v
    if isinstance(v, dict) and v and all(isinstance(x, int) for x in v.values()):
        return sum(v.values())  # e.g. raw_logs' generated_lines per event type
    return None


def _rows_of(metadata: dict[str, Any]) -> float | None:
    for key in (*ROW_KEYS, "generated_lines"):
        if key in metadata:
            n = _number(metadata[key])
            if n is not None:
                return n
    return None


def dagster_timings(dagster_home: Path, run_id: str | None) -> dict[str, Any]:
    """Per step of the run (default: the newest one in the instance): wall time from its
    first STEP_START to its last STEP_SUCCESS/STEP_FAILURE, and the rows its asset
    materializations report. Read from the instance the run wrote, after it ended."""
    from dagster import DagsterEventType, DagsterInstance

    types = {
        DagsterEventType.RUN_START,
        DagsterEventType.RUN_SUCCESS,
        DagsterEventType.RUN_FAILURE,
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.ASSET_MATERIALIZATION,
    }
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        if run_id is None:
            runs = instance.get_runs(limit=1)
            if not runs:
                return {"run_id": None, "steps": []}
            run_id = runs[0].run_id
        run = instance.get_run_by_id(run_id)
        entries = instance.all_logs(run_id, of_type=types)
    steps: dict[str, dict[str, Any]] = {}
    run_start = run_end = None
    for e in entries:
        t = e.dagster_event_type
        if t == DagsterEventType.RUN_START:
            run_start = e.timestamp
        elif t in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            run_end = e.timestamp
        if not e.step_key:
            continue
        s = steps.setdefault(
            e.step_key, {"step": e.step_key, "start": None, "end": None, "status": None, "assets": {}}
        )
        if t == DagsterEventType.STEP_START and s["start"] is None:  # retries restart: keep the first
            s["start"] = e.timestamp
        elif t in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            s["end"] = e.timestamp
            s["status"] = "success" if t == DagsterEventType.STEP_SUCCESS else "failure"
        elif t == DagsterEventType.ASSET_MATERIALIZATION and e.asset_materialization:
            m = e.asset_materialization
            meta = {k: getattr(v, "value", v) for k, v in m.metadata.items()}
            s["assets"][m.asset_key.to_user_string()] = _rows_of(meta)
    out = []
    for s in sorted(steps.values(), key=lambda s: s["start"] or 0):
        wall = (s["end"] - s["start"]) if s["start"] and s["end"] else None
        counted = [n for n in s["assets"].values() if n is not None]
        rows = sum(counted) if counted else None
        out.append(
            {
                "step": s["step"],
                "status": s["status"],
                "wall_s": round(wall, 3) if wall is not None else None,
                "rows": rows,
                "events_per_s": round(rows / wall) if rows and wall else None,
                "rows_by_asset": s["assets"],
            }
        )
    return {
        "run_id": run_id,
        "status": run.status.value if run else None,
        "dagster_run_s": round(run_end - run_start, 3) if run_start and run_end else None,
        "steps": out,
    }


def python_exe() -> str:
    """The project's virtualenv interpreter (its bin/ also holds the dbt the product calls)."""
    venv = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable
