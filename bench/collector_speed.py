"""Throughput of the HTTP collector: JSON Lines posts of --batch generator events (the
generator's mix of types) to a real Kafka broker (acks=all, idempotent producer), each
answered 202 only once Kafka acknowledged every event. Measured through uvicorn on
127.0.0.1 (the collector in its own process, as `python -m serving.collector` runs it),
sequentially and with --clients concurrent clients, then through FastAPI's TestClient in
this process.

    python -m bench.collector_speed --requests 60 --batch 1000
    python -m bench.collector_speed --kafka 127.0.0.1:9092   # a broker already running
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

NDJSON = {"Content-Type": "application/x-ndjson"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bodies(batch: int, count: int) -> list[bytes]:
    """`count` JSON Lines bodies of `batch` valid generator events each."""
    from ad_assets.generator import generate
    from spark_jobs.contracts import EVENT_TYPES, line_problems
    from spark_jobs.lake import Lake

    with tempfile.TemporaryDirectory(prefix="adlake-collector-bench-") as tmp:
        generate(Lake(tmp), date(2026, 11, 2), 1, 3000, seed=7)
        lines = [
            line
            for t in EVENT_TYPES
            for p in sorted((Path(tmp) / "raw" / t).rglob("*.jsonl.gz"))
            for line in gzip.decompress(p.read_bytes()).splitlines()
            if line_problems(t, line) is None
        ]
    lines.sort(key=lambda line: line[-40:])  # types interleaved, as a shipper would send them
    pool = itertools.cycle(lines)
    return [b"\n".join(next(pool) for _ in range(batch)) + b"\n" for _ in range(count)]


def _run(post, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    """Wall seconds for all bodies over `clients` threads, and each request's latency."""
    latencies: list[float] = []
    todo = iter(bodies)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                body = next(todo, None)
            if body is None:
                return
            t = time.perf_counter()
            status = post(body)
            if status != 202:
                raise RuntimeError(f"collector answered {status}")
            with lock:
                latencies.append(time.perf_counter() - t)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    wall = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - wall, latencies


def _report(label: str, wall: float, latencies: list[float], batch: int, nbytes: int) -> None:
    n = len(latencies)
    q = statistics.quantiles(latencies, n=20) if n >= 2 else latencies * 19
    print(
        f"{label:<28} {n / wall:7.1f} requests/s  {n * batch / wall:9,.0f} events/s  "
        f"{nbytes / wall / 1e6:6.1f} MB/s  latency p50 {1000 * statistics.median(latencies):6.1f} ms, "
        f"p95 {1000 * q[18]:6.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--batch", type=int, default=1000, help="events per request")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients in the second run")
    ap.add_argument("--kafka", default=None, help="bootstrap servers (default: start a broker)")
    a = ap.parse_args(argv)

    import httpx
    from fastapi.testclient import TestClient

    from serving.collector import create_app

    broker, home = None, None
    bootstrap = a.kafka
    if bootstrap is None:
        from ad_assets.realtime.servers import KafkaBroker
        from ad_assets.settings import load_settings

        home = Path(tempfile.mkdtemp(prefix="adlake-collector-bench-kafka-"))
        port = _free_port()
        broker = KafkaBroker(home, port, _free_port(), load_settings().kafka_jars_dir)
        broker.start()
        bootstrap = broker.bootstrap
    bodies = _bodies(a.batch, a.requests + 3)
    nbytes = sum(len(b) for b in bodies[3:])
    print(
        f"collector: {a.requests} requests of {a.batch} events (JSON Lines, "
        f"{nbytes / a.requests / 1e3:.0f} kB each), Kafka at {bootstrap}"
    )
    server = None
    try:
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "serving.collector", "--port", str(port), "--kafka", bootstrap],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the collector did not become healthy")
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=60, headers=NDJSON) as http:

            def post(body: bytes) -> int:
                return http.post("/v1/events", content=body).status_code

            _run(post, bodies[:3], 1)  # warm up: connections, the producer's metadata
            _report("uvicorn, 1 client", *_run(post, bodies[3:], 1), a.batch, nbytes)
            _report(f"uvicorn, {a.clients} clients", *_run(post, bodies[3:], a.clients), a.batch, nbytes)
        server.terminate()
        server.wait(30)

        with TestClient(create_app({"bootstrap.servers": bootstrap})) as client:

            def post_in_process(body: bytes) -> int:
                return client.post("/v1/events", content=body, headers=NDJSON).status_code

            _run(post_in_process, bodies[:3], 1)
            _report("TestClient, 1 client", *_run(post_in_process, bodies[3:], 1), a.batch, nbytes)
    finally:
        if server is not None and server.poll() is None:
            server.kill()
        if broker is not None:
            broker.stop()
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
