"""The docker stack's files (docker/, docs/deploy.md), checked without a Docker engine (the
build machines run none): Debian's docker-compose renders and validates the compose file,
the real hadolint lints the Dockerfile, Dagster validates the instance config, and the
versions the stack pins are the ones the tests run (the lock, the poms, the bootstrap)."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
ONE_SHOT = {"stack-init"}  # runs to completion: nothing to healthcheck


def _env_example() -> dict[str, str]:
    """docker/.env.example's variables and their example values."""
    lines = (DOCKER / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    """`docker-compose config` with every variable of .env.example set (empty ones to a
    random secret): the compose file as Docker would run it."""
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is missing: scripts/bootstrap.sh --minio installs Debian's"
    env = {k: v or secrets.token_hex(8) for k, v in _env_example().items()}
    env_file = tmp_path_factory.mktemp("compose") / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    out = subprocess.run(
        [compose, "-f", str(COMPOSE), "--env-file", str(env_file), "config"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return {"config": yaml.safe_load(out.stdout), "env": env}


def test_every_variable_the_stack_reads_is_documented_and_required_secrets_have_no_default():
    text = COMPOSE.read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    documented = _env_example()
    assert used <= set(documented), sorted(used - set(documented))
    # The secrets are required (`:?`) and empty in the example: none can slip in by default.
    for name in ("MINIO_ROOT_PASSWORD", "POSTGRES_PASSWORD", "CLICKHOUSE_DBT_PASSWORD", "REDIS_PASSWORD"):
        assert re.search(rf"\$\{{{name}:\?", text), name
        assert documented[name] == "", name
    assert documented["ADLAKE_HMAC_KEY"] == ""
    assert "docker/.env" in (ROOT / ".gitignore").read_text().splitlines()


def test_compose_services_are_healthchecked_on_loopback_with_named_volumes(rendered):
    services = rendered["config"]["services"]
    assert {
        "minio", "postgres", "clickhouse", "kafka", "redis", "stack-init", "spark-master", "spark-worker",
        "dagster-code", "dagster-webserver", "dagster-daemon", "collector", "stream-job", "prediction-api",
        "dashboard",
    } <= set(services)  # fmt: skip
    named = set(rendered["config"]["volumes"])
    for name, svc in services.items():
        if name not in ONE_SHOT:
            assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        for volume in svc.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            # Data on named volumes; only read-only config files are bind-mounted.
            assert source in named or str(volume).endswith(":ro"), f"{name}: {volume}"
        image = svc.get("image", "")
        assert image and not image.endswith(":latest") and ":" in image, f"{name}: unpinned image {image!r}"
    # Every secret a service is given comes from docker/.env: in the file itself, each such
    # value is a ${...} reference, never a literal.
    raw = yaml.safe_load(COMPOSE.read_text())
    secret = re.compile(r"PASSWORD|SECRET|_KEY$|AUTH")
    envs = [raw["x-adlake-env"], *(s.get("environment", {}) for s in raw["services"].values())]
    checked = 0
    for env in envs:
        for name, value in (env or {}).items():
            if secret.search(name):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+(:\?[^}]*)?\}", str(value)), f"{name}: {value!r}"
                checked += 1
    assert checked >= 8


def test_every_adlake_service_reads_the_same_settings(rendered):
    services = rendered["config"]["services"]
    adlake = {n: s for n, s in services.items() if s.get("build")}
    assert {"dagster-code", "dagster-webserver", "dagster-daemon", "collector", "prediction-api"} <= set(
        adlake
    )
    # The dashboard differs in one thing: it reads ClickHouse as the read-only user.
    readonly = {"ADLAKE_CLICKHOUSE_USER", "ADLAKE_CLICKHOUSE_PASSWORD"}
    dashboard = adlake["dashboard"]["environment"]
    assert dashboard["ADLAKE_CLICKHOUSE_USER"] == "adlake_dashboard"
    apart = ("spark-master", "spark-worker", "dashboard")
    envs = [s["environment"] for n, s in adlake.items() if n not in apart]
    assert all(e == envs[0] for e in envs)
    env = envs[0]
    assert {k: v for k, v in dashboard.items() if k not in readonly} == {
        k: v for k, v in env.items() if k not in readonly
    }
    assert env["ADLAKE_ENV"] == "docker" and env["ADLAKE_SPARK_MASTER"] == "spark://spark-master:7077"
    # The settings module accepts them as a deployment would set them.
    from ad_assets.settings import load_settings

    s = load_settings(env)
    assert s.env == "docker" and s.lake().is_s3 and s.clickhouse_target == "server"
    assert (
        s.spark_master == "spark://spark-master:7077"
        and dict(s.spark_conf)["spark.driver.host"] == "dagster-code"
    )


def test_the_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).parent / "hadolint"
    out = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_file_the_dockerfile_copies_exists():
    copies = [
        line.split()[1:-1]
        for line in DOCKERFILE.read_text().splitlines()
        if line.startswith("COPY ") and "--from=" not in line
    ]
    sources = [s for args in copies for s in args if not s.startswith("--")]
    assert "requirements.lock" in sources and "scripts/spark-jars.pom.xml" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert not [s for s in sources if s.split("/")[0] in ignored], "a copied path is in .dockerignore"


def _lock() -> dict[str, str]:
    return dict(
        line.split("==", 1) for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line
    )


def test_pinned_versions_match_what_the_tests_run(rendered):
    text = DOCKERFILE.read_text()
    python = re.search(r"ARG PYTHON_IMAGE=python:(\d+)\.(\d+)\.\d+-slim", text)
    requires = re.search(r'requires-python = ">=(\d+)\.(\d+)', (ROOT / "pyproject.toml").read_text())
    assert python and requires and python.groups() == requires.groups()
    assert re.search(r"pip install --no-deps -r /tmp/requirements.lock", text)
    images = {n: s["image"] for n, s in rendered["config"]["services"].items() if not s.get("build")}
    kafka = re.search(
        r"<artifactId>kafka_2\.13</artifactId>\s*<version>([\d.]+)</version>",
        (ROOT / "scripts/kafka-broker.pom.xml").read_text(),
    )
    assert kafka and images["kafka"] == f"apache/kafka:{kafka.group(1)}"
    minio = re.search(r"MINIO_VERSION=\S+\s+# (RELEASE\.\S+)", (ROOT / "scripts/bootstrap.sh").read_text())
    assert minio and images["minio"] == f"minio/minio:{minio.group(1)}"
    chdb_core = _lock()["chdb-core"]
    assert images["clickhouse"] == "clickhouse/clickhouse-server:" + ".".join(chdb_core.split(".")[:2])
    redis_server = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=True)
    local = re.search(r"v=(\d+\.\d+)\.", redis_server.stdout).group(1)
    assert images["redis"].split(":")[1].startswith(local + "."), (images["redis"], local)


def test_the_dagster_instance_config_is_valid_for_postgres(tmp_path, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_DB", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD"):
        monkeypatch.setenv(name, "x")
    shutil.copy(DOCKER / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert "postgres_db" in config["storage"]["postgres"]
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 2
    assert config["run_monitoring"]["enabled"] is True and config["telemetry"]["enabled"] is False
    # The webserver and the daemon find the code location where the image's command serves it.
    server = yaml.safe_load((DOCKER / "workspace.yaml").read_text())["load_from"][0]["grpc_server"]
    assert server["host"] == "dagster-code"
    assert f'"--port", "{server["port"]}"' in DOCKERFILE.read_text().splitlines()[-1]
