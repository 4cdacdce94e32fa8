"""`adlake` runs of one home take turns (ad_assets/cli.py `one_run_at_a_time`): real
processes contend for the run lock. A second run waits, says so, and starts once the first
ends, even when the first was killed (the kernel drops a dead process's lock). This is
what makes two `adlake run`s of one partition at once equal one run (test_faults kills a
run and reruns its partition; both runs doing a lake's work here cost ~3 minutes)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

HOLD = """
import sys, time
from pathlib import Path
from ad_assets.cli import one_run_at_a_time
home = Path(sys.argv[1])
with one_run_at_a_time(home):
    print("running", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _run(home: Path, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(home), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_second_run_waits_until_the_first_ends(tmp_path):
    # Taken before the first starts: it holds the lock for 3 s from a moment after this,
    # so a second run that got in only once the first let go says so 3 s after it at least.
    started = time.monotonic()
    first = _run(tmp_path, 3)
    assert first.stdout.readline().strip() == "running"
    second = _run(tmp_path, 0)
    assert second.stdout.readline().startswith(f"another adlake run is using {tmp_path.parent}: waiting")
    assert second.stdout.readline().strip() == "running"
    assert time.monotonic() - started >= 3
    assert first.wait(5) == 0 and second.wait(10) == 0


def test_a_killed_run_frees_the_lock(tmp_path):
    first = _run(tmp_path, 600)
    assert first.stdout.readline().strip() == "running"
    second = _run(tmp_path, 0)
    assert "waiting" in second.stdout.readline()
    time.sleep(0.5)
    assert second.poll() is None
    first.send_signal(signal.SIGKILL)
    first.wait(5)
    assert second.stdout.readline().strip() == "running"
    assert second.wait(10) == 0
