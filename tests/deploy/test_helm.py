"""infra/helm (Kubernetes), checked offline: the real helm (built by the bootstrap) lints
the chart and renders it, every rendered manifest validates against Kubernetes' own
schemas (kubernetes-validate), every pod runs locked down with its probes and resources,
and the code location is where the Dagster chart's values look for it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.helpers import CACHE

HELM_DIR = Path(__file__).resolve().parents[2] / "infra" / "helm"
CHART = HELM_DIR / "adlake"
HELM = CACHE / "bin" / "helm"
KUBERNETES = "1.33.0"  # the schemas the manifests are validated against
RELEASE = "adlake"


def _helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    assert HELM.exists(), f"{HELM} missing: scripts/bootstrap.sh --minio builds it (make test does)"
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, check=check)


def _render(*sets: str) -> list[dict]:
    args = [a for s in sets for a in ("--set", s)]
    out = _helm("template", RELEASE, str(CHART), "--kube-version", KUBERNETES, *args)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    return _render()


def test_the_chart_lints(tmp_path):
    out = _helm("lint", str(CHART), "--strict", "--kube-version", KUBERNETES, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_manifest_validates_against_kubernetes_schemas(manifests):
    kinds = sorted(f"{m['kind']}/{m['metadata']['name']}" for m in manifests)
    assert kinds == [
        "ConfigMap/adlake-env",
        "Deployment/adlake-code",
        "Deployment/adlake-collector",
        "Deployment/adlake-dashboard",
        "Deployment/adlake-prediction-api",
        "NetworkPolicy/adlake-code",
        "NetworkPolicy/adlake-collector",
        "NetworkPolicy/adlake-dashboard",
        "NetworkPolicy/adlake-prediction-api",
        "PodDisruptionBudget/adlake-collector",
        "PodDisruptionBudget/adlake-prediction-api",
        "Service/adlake-code",
        "Service/adlake-collector",
        "Service/adlake-dashboard",
        "Service/adlake-prediction-api",
        "ServiceAccount/adlake",
    ]
    for m in manifests:
        kubernetes_validate.validate(m, KUBERNETES, strict=True)


def test_pods_run_locked_down_with_probes_and_resources(manifests):
    deployments = [m for m in manifests if m["kind"] == "Deployment"]
    services = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Service"}
    for d in deployments:
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
        assert pod["automountServiceAccountToken"] is False
        (c,) = pod["containers"]
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        # Read-only everywhere but the code location, where dbt writes its run artifacts.
        assert sc["readOnlyRootFilesystem"] is (d["metadata"]["name"] != "adlake-code")
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
        assert c["readinessProbe"] and c["livenessProbe"]
        assert not c["image"].endswith(":latest")
        # Writable paths are volumes of the pod (the root filesystem is read-only).
        assert {"/tmp", "/var/lib/adlake"} <= {v["mountPath"] for v in c["volumeMounts"]}
        # The Service in front of it targets its container port by name.
        port_names = {p["name"] for p in c["ports"]}
        assert {p["targetPort"] for p in services[d["metadata"]["name"]]["spec"]["ports"]} <= port_names


def test_the_dagster_chart_finds_the_code_location(manifests):
    values = yaml.safe_load((HELM_DIR / "dagster-values.yaml").read_text())
    (server,) = values["dagsterWebserver"]["workspace"]["servers"]
    code = next(m for m in manifests if m["kind"] == "Service" and m["metadata"]["name"] == server["host"])
    assert code["spec"]["ports"][0]["port"] == server["port"]
    # Only Dagster's pods may reach it (the network policy's selector).
    policy = next(
        m for m in manifests if m["kind"] == "NetworkPolicy" and m["metadata"]["name"] == "adlake-code"
    )
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "dagster"}}}]
    assert rule["ports"] == [{"port": server["port"], "protocol": "TCP"}]
    assert values["dagster-user-deployments"]["enabled"] is False and values["telemetry"]["enabled"] is False
    # Dagster's chart at the Dagster release the lock pins.
    lock = (HELM_DIR.parents[1] / "requirements.lock").read_text()
    dagster = re.search(r"^dagster==(\S+)$", lock, re.M).group(1)
    assert f"--version {dagster}" in (HELM_DIR / "dagster-values.yaml").read_text()


def test_components_can_be_turned_off_and_latest_is_refused():
    names = {m["metadata"]["name"] for m in _render("collector.enabled=false", "predictionApi.enabled=false")}
    assert not any("collector" in n or "prediction" in n for n in names) and "adlake-code" in names
    out = _helm(
        "template",
        RELEASE,
        str(CHART),
        "--kube-version",
        KUBERNETES,
        "--set",
        "image.tag=latest",
        check=False,
    )
    assert out.returncode != 0 and "not latest" in out.stderr


def test_the_dashboard_reads_clickhouse_as_the_read_only_user(manifests):
    deployments = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Deployment"}
    dash = deployments["adlake-dashboard"]
    env = {e["name"]: e for e in dash["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ADLAKE_CLICKHOUSE_USER"]["value"] == "adlake_dashboard"
    ref = env["ADLAKE_CLICKHOUSE_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "adlake-secrets", "key": "ADLAKE_DASHBOARD_CLICKHOUSE_PASSWORD"}
