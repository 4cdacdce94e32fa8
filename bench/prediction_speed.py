"""Speed of the prediction API (docs/prediction.md): `adlake serve` in its own process over
a home where `make run` trained and promoted a model, a scratch Redis on a free port (the
API publishes the lake's newest counts into it), and wrk (Debian's) posting one logged
impression over loopback: requests/s and latency percentiles at 10 and 50 connections.

    python -m bench.prediction_speed [--home .adlake] [--workers 2] [--seconds 15]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

CONNECTIONS = (10, 50)
_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "r")
wrk.body = f:read("*a")
f:close()
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _impression(home: Path) -> dict:
    """A valid logged impression from the home's raw files."""
    for path in sorted((home / "lake" / "raw" / "impression").rglob("*.jsonl.gz")):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if row.get("ivt") == "none" and row.get("user_id"):
                return row
    raise SystemExit(f"no raw impressions under {home}/lake: run `make run` first")


def parse_wrk(text: str) -> dict[str, float]:
    """requests/s and the latency percentiles (ms) of `wrk --latency` output."""
    out: dict[str, float] = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
        out[f"p{pct}_ms"] = round(float(value) * _UNITS[unit], 2)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = int(errors.group(1)) if errors else 0
    return out


def measure(home: Path, workers: int = 2, seconds: int = 15) -> dict[str, Any]:
    from ad_assets.realtime.servers import RedisServer
    from prediction.registry import Registry
    from spark_jobs.lake import Lake

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    version = Registry(Lake(str(home / "lake"))).current()
    if version is None:
        raise SystemExit(f"no promoted CTR model under {home}: run `make run` first")
    scratch = Path(tempfile.mkdtemp(prefix="adlake-api-bench-"))
    redis = RedisServer(scratch / "redis", _free_port())
    port = _free_port()
    body = scratch / "impression.json"
    body.write_text(json.dumps(_impression(home)))
    (scratch / "post.lua").write_text(_LUA.format(body=body))
    env = {
        **os.environ,
        "ADLAKE_HOME": str(home),
        "ADLAKE_REDIS_URL": redis.url,
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    api = None
    try:
        redis.start()
        cmd = [sys.executable, "-m", "ad_assets.cli", "serve", "--port", str(port), "--workers", str(workers)]
        api = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{url}/health", timeout=1).json()
                if health["status"] == "ok" and health["feature_snapshot"]:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or api.poll() is not None:
                raise SystemExit("the prediction API did not become healthy in 60 s")
            time.sleep(0.5)
        answer = httpx.post(
            f"{url}/v1/predict", content=body.read_bytes(), headers={"content-type": "application/json"}
        )
        answer.raise_for_status()
        result: dict[str, Any] = {"model_version": version, "workers": workers, "seconds": seconds}
        wrk = [
            "wrk",
            "-t2",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(scratch / "post.lua"),
            f"{url}/v1/predict",
        ]
        subprocess.run([*wrk[:2], "-c10", "-d3s", *wrk[3:]], capture_output=True, check=True)  # warm-up
        for c in CONNECTIONS:
            out = subprocess.run(
                [*wrk[:2], f"-c{c}", *wrk[2:]], capture_output=True, text=True, check=True
            ).stdout
            result[f"c{c}"] = parse_wrk(out)
            print(f"prediction API, {c} connections: {result[f'c{c}']}", flush=True)
        return result
    finally:
        if api is not None:
            api.terminate()
            api.wait(10)
        redis.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.prediction_speed", description=__doc__)
    p.add_argument("--home", type=Path, default=Path(os.environ.get("ADLAKE_HOME", ".adlake")))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seconds", type=int, default=15)
    a = p.parse_args(argv)
    print(json.dumps(measure(a.home.resolve(), a.workers, a.seconds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
