"""How fast the dashboard's pages render (issue 15: under 2 s each after warm-up), over a
home `make run` built: `adlake dashboard` on a free port, each page loaded in Debian's
Chromium by Playwright until Streamlit reports its script done; the first load (cold
caches) and the median and worst of the warm ones.

    python -m bench.dashboard_speed [--home .adlake] [--loads 3] [--screenshots docs/images]

--screenshots saves each page as it renders warm (the README's come from `make run`'s lake).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

PAGES = ("", "campaigns", "auctions", "attribution", "audiences", "live", "models", "quality", "alerts")
TARGET_S = 2.0
IDLE = "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load(page, url: str) -> float:
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_timeout(100)  # the script starts after the page connects
    page.wait_for_function(IDLE, timeout=60_000)
    return time.perf_counter() - t


def measure(home: Path, loads: int = 3, screenshots: Path | None = None) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    if not (home / "marts_snapshot" / "CURRENT").exists():
        raise SystemExit(f"no marts snapshot under {home}: run `make run` first")
    port = _free_port()
    env = {**os.environ, "ADLAKE_HOME": str(home)}
    cmd = [sys.executable, "-m", "ad_assets.cli", "dashboard", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        pages: dict[str, Any] = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            for name in PAGES:
                cold = _load(page, f"{base}/{name}")
                warm = [_load(page, f"{base}/{name}") for _ in range(loads)]
                if screenshots:
                    page.wait_for_timeout(1500)  # tables and charts draw after the script ends
                    screenshots.mkdir(parents=True, exist_ok=True)
                    shot = screenshots / f"dashboard-{name or 'overview'}.png"
                    page.screenshot(path=str(shot), full_page=True)
                pages[name or "overview"] = {
                    "cold_s": round(cold, 2),
                    "warm_p50_s": round(statistics.median(warm), 2),
                    "warm_max_s": round(max(warm), 2),
                }
                shown = pages[name or "overview"]
                print(f"  {name or 'overview':<12} " + "  ".join(f"{k} {v:5.2f}" for k, v in shown.items()))
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    worst = max(p["warm_max_s"] for p in pages.values())
    return {"pages": pages, "warm_max_s": worst, "target_s": TARGET_S, "meets_target": worst < TARGET_S}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--home", default=os.environ.get("ADLAKE_HOME", ".adlake"))
    p.add_argument("--loads", type=int, default=3)
    p.add_argument("--screenshots", type=Path, help="save a PNG of every page here")
    a = p.parse_args(argv)
    r = measure(Path(a.home).resolve(), a.loads, a.screenshots)
    print(json.dumps(r))
    return 0 if r["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
