"""The product's own `adlake generate`, for what the bench needs that the CLI cannot
express:

- `generate`: `adlake generate` with its imports done before the clock starts, so the
  generator's events/s is not diluted by interpreter and numpy/polars/pyarrow start-up
  (the bench also records the whole subprocess's wall time).
The module name contains "adlake" on purpose: ad_assets.runs tells a live `adlake` run
from an abandoned one by looking for "adlake" or "ad_assets" in the PID's command line.

    python -m bench.adlake_cmd generate --start 2026-11-01 --days 1 --impressions-per-day N --out DIR
"""

from __future__ import annotations

import sys
import time

GENERATE_MARK = "BENCH_GENERATE_SECONDS"


def generate(argv: list[str]) -> int:
    import ad_assets.generator  # noqa: F401  (numpy, polars, pyarrow: loaded before the clock)
    from ad_assets.cli import main

    t = time.perf_counter()
    rc = main(["generate", *argv])
    print(f"{GENERATE_MARK} {time.perf_counter() - t:.6f}", flush=True)
    return rc


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["generate"]:
        print("usage: python -m bench.adlake_cmd generate <adlake generate arguments>", file=sys.stderr)
        return 2
    return generate(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
