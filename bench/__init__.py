"""`make bench`: throughput, floors, history and mart latency of AdLake (see bench/run.py)."""
