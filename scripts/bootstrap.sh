#!/usr/bin/env bash
# Sets up everything AdLake needs, idempotently, and fast the second time:
#   - a virtualenv for requirements.txt, kept in the cache and keyed by the file's hash
#     (so a fresh clone on the same machine reuses it), linked as ./.venv
#   - the Spark jars (Delta, hadoop-aws) copied by Maven into the cache
#   - the MinIO server binary built from source with `go install` (tests only: --minio)
# Cache root: $ADLAKE_CACHE (default ~/.cache/adlake). Nothing here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${ADLAKE_CACHE:-$HOME/.cache/adlake}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
mkdir -p "$CACHE"

req_hash=$( (cat requirements.txt; "$PYTHON" --version) | sha256sum | cut -c1-16)
venv="$CACHE/venv-$req_hash"
if [ ! -x "$venv/.ready" ]; then
  echo "bootstrap: creating virtualenv $venv"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r requirements.txt
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

if [ "${1:-}" = "--minio" ]; then
  if [ ! -x "$CACHE/bin/minio" ]; then
    echo "bootstrap: building MinIO from source (go install, a few minutes once)"
    (cd /tmp && GOBIN="$CACHE/bin" GOFLAGS=-mod=mod go install github.com/minio/minio@latest)
  fi
fi
