#!/usr/bin/env bash
# Sets up everything AdLake needs, idempotently, and fast the second time:
#   - a virtualenv installed from requirements.lock (the whole dependency tree, pinned) by
#     uv, kept in the cache and keyed by the lock's hash (so a fresh clone on the same
#     machine reuses it), linked as ./.venv
#   - the Spark jars (Delta, hadoop-aws, the Kafka source) copied by Maven into the cache
#   - the Kafka broker's jars (the real-time path: run and tests both start a broker),
#     copied by Maven into the cache; Redis from Debian's redis-server if it is missing
#   - the MinIO server binary built from source with `go install` at a pinned release
#     (tests only: --minio), and the deployment checks' tools (tests only): Debian's
#     docker-compose, which validates docker/compose.yaml offline (no Docker engine runs
#     here), hclfmt and helm built with `go install` at pinned releases, and checkov in a
#     virtualenv of its own from scripts/checkov.lock; Debian's chromium for the dashboard's
#     browser tests (Playwright)
# Cache root: $ADLAKE_CACHE (default ~/.cache/adlake). Nothing here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${ADLAKE_CACHE:-$HOME/.cache/adlake}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
mkdir -p "$CACHE"

UV_VERSION=0.13.8
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c  # RELEASE.2026-02-12T20-18-48Z
HCL_VERSION=v2.25.0  # hclfmt: HCL's canonical format, what `terraform fmt` applies
HELM_VERSION=v3.22.0

# uv installs the locked tree in seconds where pip takes minutes; it lives in its own venv.
uv="$CACHE/uv-$UV_VERSION/bin/uv"
if [ ! -x "$uv" ]; then
  echo "bootstrap: installing uv $UV_VERSION"
  rm -rf "$CACHE/uv-$UV_VERSION"
  "$PYTHON" -m venv "$CACHE/uv-$UV_VERSION"
  "$CACHE/uv-$UV_VERSION/bin/pip" install -q "uv==$UV_VERSION"
fi

req_hash=$( (cat requirements.lock; "$PYTHON" --version) | sha256sum | cut -c1-16)
venv="$CACHE/venv-$req_hash"
if [ ! -x "$venv/.ready" ]; then
  echo "bootstrap: creating virtualenv $venv from requirements.lock"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  UV_CACHE_DIR="$CACHE/uv-cache" "$uv" pip install -q --python "$venv/bin/python" -r requirements.lock
  printf '#!/bin/sh\n' > "$venv/.ready" && chmod +x "$venv/.ready"
fi
# The project itself and its dbt adapter for chDB, editable, so `adlake`, `dbt` and imports
# see the working tree. The adapter lives in the `dbt.adapters` namespace package, which
# dbt scans through sys.path: "compat" mode puts its folder there.
log="$CACHE/editable-install.log"
"$venv/bin/pip" install -q --no-deps -e . >"$log" 2>&1 || { cat "$log"; exit 1; }
"$venv/bin/pip" install -q --no-deps --config-settings editable_mode=compat -e dbt_project/adapter \
  >>"$log" 2>&1 || { cat "$log"; exit 1; }
ln -sfn "$venv" .venv

jar_hash=$(sha256sum scripts/spark-jars.pom.xml | cut -c1-16)
jars="$CACHE/jars-$jar_hash"
if [ ! -f "$jars/.ready" ]; then
  echo "bootstrap: fetching Spark jars into $jars"
  tmp="$jars.tmp"; rm -rf "$tmp"
  mvn -q -f scripts/spark-jars.pom.xml dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" \
    -DincludeArtifactIds="$(sed -n "s/.*keep: \([^ ]*\) -->.*/\1/p" scripts/spark-jars.pom.xml)"
  touch "$tmp/.ready" && rm -rf "$jars" && mv "$tmp" "$jars"
fi
ln -sfn "$jars" "$CACHE/jars-current"

# The broker's whole runtime tree: it runs in its own JVM (ad_assets/realtime/servers.py),
# so nothing of it is shared with pyspark's jars.
kafka_hash=$(sha256sum scripts/kafka-broker.pom.xml | cut -c1-16)
kafka="$CACHE/kafka-$kafka_hash"
if [ ! -f "$kafka/.ready" ]; then
  echo "bootstrap: fetching the Kafka broker's jars into $kafka"
  tmp="$kafka.tmp"; rm -rf "$tmp"
  mvn -q -f scripts/kafka-broker.pom.xml dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp"
  touch "$tmp/.ready" && rm -rf "$kafka" && mv "$tmp" "$kafka"
fi
ln -sfn "$kafka" "$CACHE/kafka-current"

# Redis from Debian's package. Its own service, if the package starts one, would hold the
# default port: the project starts its own server with its own config (adlake stream up).
if ! command -v redis-server >/dev/null; then
  echo "bootstrap: installing Debian's redis-server"
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server; }
  apt_install >/dev/null || { apt-get update -q >/dev/null && apt_install >/dev/null; } || {
    echo "bootstrap: could not install redis-server with apt-get (root on Debian); install Redis 7" >&2
    exit 1
  }
  if service redis-server status >/dev/null 2>&1; then
    service redis-server stop >/dev/null 2>&1 || true
    echo "bootstrap: stopped the redis-server service the package started (AdLake runs its own)"
  else
    echo "bootstrap: redis-server installed; the package's service is not running (AdLake runs its own)"
  fi
fi

if [ "${1:-}" = "--minio" ]; then
  minio_bin="$CACHE/minio-$MINIO_VERSION/minio"
  if [ ! -x "$minio_bin" ]; then
    echo "bootstrap: building MinIO $MINIO_VERSION from source (go install, about 12 minutes once)"
    (cd /tmp && GOBIN="$CACHE/minio-$MINIO_VERSION" GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION")
  fi
  mkdir -p "$CACHE/bin" && ln -sfn "$minio_bin" "$CACHE/bin/minio"
  hclfmt="$CACHE/hclfmt-$HCL_VERSION/hclfmt"
  if [ ! -x "$hclfmt" ]; then
    echo "bootstrap: building hclfmt $HCL_VERSION (go install, seconds)"
    (cd /tmp && GOBIN="$CACHE/hclfmt-$HCL_VERSION" GOFLAGS=-mod=mod go install "github.com/hashicorp/hcl/v2/cmd/hclfmt@$HCL_VERSION")
  fi
  ln -sfn "$hclfmt" "$CACHE/bin/hclfmt"
  helm_bin="$CACHE/helm-$HELM_VERSION/helm"
  if [ ! -x "$helm_bin" ]; then
    echo "bootstrap: building helm $HELM_VERSION (go install, about 4 minutes once)"
    (cd /tmp && GOBIN="$CACHE/helm-$HELM_VERSION" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
  fi
  ln -sfn "$helm_bin" "$CACHE/bin/helm"
  checkov_hash=$( (cat scripts/checkov.lock; "$PYTHON" --version) | sha256sum | cut -c1-16)
  checkov_venv="$CACHE/checkov-$checkov_hash"
  if [ ! -x "$checkov_venv/.ready" ]; then
    echo "bootstrap: creating checkov's virtualenv $checkov_venv from scripts/checkov.lock"
    rm -rf "$checkov_venv"
    "$PYTHON" -m venv "$checkov_venv"
    UV_CACHE_DIR="$CACHE/uv-cache" "$uv" pip install -q --python "$checkov_venv/bin/python" -r scripts/checkov.lock
    printf '#!/bin/sh\n' > "$checkov_venv/.ready" && chmod +x "$checkov_venv/.ready"
  fi
  ln -sfn "$checkov_venv/bin/checkov" "$CACHE/bin/checkov"
  if ! command -v docker-compose >/dev/null; then
    echo "bootstrap: installing Debian's docker-compose (validates docker/compose.yaml; no engine needed)"
    compose_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-compose; }
    compose_install >/dev/null || { apt-get update -q >/dev/null && compose_install >/dev/null; } || {
      echo "bootstrap: could not install docker-compose with apt-get (root on Debian)" >&2
      exit 1
    }
  fi
  # The dashboard's browser tests: Playwright drives Debian's Chromium (its own browser
  # download cannot reach its host from here).
  if [ ! -x /usr/bin/chromium ]; then
    echo "bootstrap: installing Debian's chromium (the dashboard's browser tests)"
    chromium_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }
    chromium_install >/dev/null || { apt-get update -q >/dev/null && chromium_install >/dev/null; } || {
      echo "bootstrap: could not install chromium with apt-get (root on Debian)" >&2
      exit 1
    }
  fi
fi
