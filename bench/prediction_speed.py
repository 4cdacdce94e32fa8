"""Speed of the prediction API (docs/prediction.md): `adlake serve` in its own process over
a home where `make run` trained and promoted a model, a scratch Redis on a free port (the
API publishes the lake's newest counts into it), and wrk (Debian's) posting the logged
impressions of the lake's last day, one per request in turn (distinct users, placements
and creatives, as a day's traffic has them: the API's per-worker feature cache must earn
its hits) over loopback: requests/s and latency percentiles at 10 and 50 connections.

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
local bodies = {{}}
for line in io.lines("{bodies}") do bodies[#bodies + 1] = line end
-- Each thread starts at its own place in the list (wrk numbers the threads in setup; an
-- unseeded math.random would give every thread the same start).
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local i = 0
init = function(args)
  i = math.floor((id or 0) * #bodies / 2)
end
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""
# More than the runs post (about 5k requests/s x 23 s): each request a logged impression of
# its own, so the per-worker feature cache hits only where traffic repeats an entity.
DISTINCT_IMPRESSIONS = 200_000
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _impressions(home: Path, limit: int = DISTINCT_IMPRESSIONS) -> list[dict]:
    """Valid logged impressions from the home's raw files, newest arrival date first (the
    lines that break the contract on purpose would get 422s)."""
    from pydantic import ValidationError

    from serving.prediction_api import Impression

    out: list[dict] = []
    for day in sorted((home / "lake" / "raw" / "impression").glob("dt=*"), reverse=True):
        for path in sorted(day.rglob("*.jsonl.gz")):
            for line in gzip.decompress(path.read_bytes()).splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(row, dict) or row.get("ivt") != "none":
                    continue
                try:
                    Impression.model_validate(row)
                except ValidationError:
                    continue
                out.append(row)
                if len(out) == limit:
                    return out
    if not out:
        raise SystemExit(f"no raw impressions under {home}/lake: run `make run` first")
    return out


def parse_wrk(text: str) -> dict[str, float]:
    """requests/s and the latency percentiles (ms) of `wrk --latency` output."""
    out: dict[str, float] = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
        out[f"p{pct}_ms"] = round(float(value) * _UNITS[unit], 2)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = int(errors.group(1)) if errors else 0
    return out


def measure(home: Path, workers: int = 2, seconds: int = 15, feature_cache: bool = True) -> dict[str, Any]:
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
    impressions = _impressions(home)
    bodies = scratch / "impressions.jsonl"
    bodies.write_text("".join(json.dumps(i) + "\n" for i in impressions))
    (scratch / "post.lua").write_text(_LUA.format(bodies=bodies))
    env = {
        **os.environ,
        "ADLAKE_HOME": str(home),
        "ADLAKE_REDIS_URL": redis.url,
        "OMP_WAIT_POLICY": "PASSIVE",
        **({} if feature_cache else {"ADLAKE_FEATURE_CACHE_ENTRIES": "0"}),
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
        answer = httpx.post(f"{url}/v1/predict", json=impressions[0])
        answer.raise_for_status()
        result: dict[str, Any] = {
            "model_version": version,
            "cvr_model_version": answer.json().get("cvr_model_version"),
            "workers": workers,
            "seconds": seconds,
            "distinct_impressions": len(impressions),
            "feature_cache": feature_cache,
        }
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
        # One worker's feature cache (whichever answers): how much of Redis it saved.
        cache = httpx.get(f"{url}/health", timeout=5).json()["feature_cache"]
        looked_up = cache["hits"] + cache["misses"]
        result["feature_cache_hit_rate"] = round(cache["hits"] / looked_up, 3) if looked_up else None
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
    p.add_argument("--no-feature-cache", action="store_true", help="every lookup reads Redis")
    a = p.parse_args(argv)
    print(json.dumps(measure(a.home.resolve(), a.workers, a.seconds, not a.no_feature_cache), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
