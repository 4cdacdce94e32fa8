# AdLake: `make run` builds the lake end to end, `make test` runs the suite.
# Both bootstrap first (virtualenv, Spark jars, MinIO for tests), from a cache that makes
# the second time fast. Everything the pipeline writes goes under ADLAKE_HOME.
SHELL := /bin/bash
export ADLAKE_HOME ?= $(CURDIR)/.adlake
export DO_NOT_TRACK := 1
# OpenMP threads (LightGBM, scikit-learn) spin while waiting unless passive: 8x slower on 2 cores.
export OMP_WAIT_POLICY := PASSIVE
PY := .venv/bin/python
DAYS ?= 7
# START unset: the CLI's default first day (ad_assets.settings.DEFAULT_START_DATE).
START ?=
IMPRESSIONS_PER_DAY ?= 30000
# The KPI alerts' demo (docs/alerts.md): conversions collapse on days 5-6 of the default week,
# so `make run` shows an alert firing and recovering. INCIDENT= (empty) runs without it.
DEFAULT_INCIDENT := from=2026-11-05,to=2026-11-06,factor=0.1
INCIDENT ?= $(if $(START),,$(DEFAULT_INCIDENT))
BENCH_SCALE ?= all
# The prediction API's load generator (bench/prediction_speed.py): Debian's wrk.
APT_WRK := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null

.PHONY: setup setup-test run ui dashboard docs test test-stream lint lock clean bench bench-quick stack-up stack-down

setup:
	@scripts/bootstrap.sh

setup-test:
	@scripts/bootstrap.sh --minio

run: setup
	$(PY) -m ad_assets.cli run $(if $(START),--start $(START)) --days $(DAYS) --impressions-per-day $(IMPRESSIONS_PER_DAY) \
	  $(if $(INCIDENT),--incident $(INCIDENT))

ui: setup
	$(PY) -m ad_assets.cli ui

# The dashboard (after make run): marts, live counters, models, quality, KPI alerts on 127.0.0.1:8501
dashboard: setup
	$(PY) -m ad_assets.cli dashboard

# dbt docs for the marts (after make run): catalog from the engine, served on 127.0.0.1:8080
docs: setup
	$(PY) -m ad_assets.cli dbt docs generate
	$(PY) -m ad_assets.cli dbt docs serve --host 127.0.0.1 --port 8080 --no-browser

test: setup-test
	.venv/bin/ruff check .
	$(PY) -m pytest -q -p no:cacheprovider --durations=15 $(PYTEST_ARGS)

# The real-time path's Spark tests alone, with the in-process lake landing test that is
# not in `make test` (its foreachBatch once hung inside the full suite: docs/streaming.md).
test-stream: setup-test
	ADLAKE_STREAM_TESTS=1 $(PY) -m pytest -q -p no:cacheprovider --durations=10 tests/integration/test_stream.py

# Throughput with the real engines against floors and targets (bench/run.py); results in
# bench/results/. BENCH_ARGS passes more flags, e.g. BENCH_ARGS="--skip-history --readme".
bench: setup
	@command -v wrk >/dev/null || { $(APT_WRK) || { apt-get update -q >/dev/null && $(APT_WRK); }; }
	$(PY) -m bench.run --scale $(BENCH_SCALE) $(BENCH_ARGS)

bench-quick: setup
	$(PY) -m bench.run --scale quick $(BENCH_ARGS)

# Re-pin the whole dependency tree after changing pyproject.toml's (uv from the bootstrap).
lock: setup
	$${ADLAKE_CACHE:-$$HOME/.cache/adlake}/uv-0.13.8/bin/uv pip compile pyproject.toml --extra dev -o requirements.lock \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 -q
	$${ADLAKE_CACHE:-$$HOME/.cache/adlake}/uv-0.13.8/bin/uv pip compile scripts/checkov.in -o scripts/checkov.lock \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 -q

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

clean:
	rm -rf $(ADLAKE_HOME) dbt_project/target dbt_project/logs

# The full local deployment (docker/compose.yaml, docs/deploy.md). Needs Docker with the
# compose plugin, and docker/.env (from docker/.env.example); the build machines have no
# Docker engine: tests/deploy validates these files instead.
COMPOSE := docker compose -p adlake -f docker/compose.yaml --env-file docker/.env

stack-up:
	@test -f docker/.env || { echo "copy docker/.env.example to docker/.env and fill it in"; exit 1; }
	$(COMPOSE) up -d --build --wait

stack-down:
	$(COMPOSE) down
