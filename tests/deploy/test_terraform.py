"""infra/terraform (AWS), checked without the Terraform registry (unreachable from the build
machines): every file parses and is in HCL's canonical format, checkov passes with every
skip explained in place, every variable is documented and typed, every module has its
README, variables and outputs and is used by both environments, every ECS container is
health-checked, and no secret rides in the tasks' plain environment."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import hcl2
import pytest

from tests.helpers import CACHE

TERRAFORM = Path(__file__).resolve().parents[2] / "infra" / "terraform"
MODULES = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
ENVS = sorted(p for p in (TERRAFORM / "envs").iterdir() if p.is_dir())
FILES = sorted(TERRAFORM.rglob("*.tf"))
HCLFMT, CHECKOV = CACHE / "bin" / "hclfmt", CACHE / "bin" / "checkov"


def _parse(path: Path) -> dict:
    with open(path) as f:
        return hcl2.load(f)


def _blocks(directory: Path, kind: str) -> dict[str, dict]:
    """The named blocks of one kind (variable, output, module) of a module's files."""
    out: dict[str, dict] = {}
    for path in sorted(directory.glob("*.tf")):
        for block in _parse(path).get(kind, []):
            out.update({_unquote(name): body for name, body in block.items()})
    return out


def _unquote(value: str) -> str:
    return value.strip('"') if isinstance(value, str) else value


def test_every_file_parses_and_is_in_canonical_format():
    assert len(FILES) >= 30 and MODULES and ENVS
    for path in FILES:
        _parse(path)
    assert HCLFMT.exists(), f"{HCLFMT} missing: scripts/bootstrap.sh --minio builds it (make test does)"
    changed = [
        str(p.relative_to(TERRAFORM))
        for p in FILES
        if subprocess.run([str(HCLFMT), "-require-no-change", str(p)], capture_output=True).returncode
    ]
    assert not changed, f"not in canonical format (hclfmt -w them): {changed}"


def test_checkov_passes_and_every_skip_says_why():
    assert CHECKOV.exists(), f"{CHECKOV} missing: scripts/bootstrap.sh --minio installs it (make test does)"
    out = subprocess.run(
        [str(CHECKOV), "-d", str(TERRAFORM), "--framework", "terraform", "--quiet", "--compact",
         "--skip-download", "--output", "cli"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    passed = re.search(r"Passed checks: (\d+), Failed checks: (\d+)", out.stdout)
    assert passed and int(passed.group(1)) > 100 and passed.group(2) == "0", out.stdout[-2000:]
    for path in FILES:
        for skip in re.findall(r"checkov:skip=(\S+?)(?::(.*))?$", path.read_text(), re.M):
            assert len(skip[1].strip()) > 20, f"{path.name}: skip {skip[0]} gives no reason"


@pytest.mark.parametrize("module", MODULES + ENVS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_variable_has_a_description_and_a_type_and_every_output_a_description(module):
    variables = _blocks(module, "variable")
    assert variables, module
    for name, body in variables.items():
        assert body.get("description") and body.get("type"), f"{module.name}: variable {name}"
    for name, body in _blocks(module, "output").items():
        assert body.get("description"), f"{module.name}: output {name}"


def _module_sources(directory: Path) -> set[Path]:
    return {
        (directory / _unquote(body["source"])).resolve() for body in _blocks(directory, "module").values()
    }


def test_every_module_is_documented_and_used_by_every_environment():
    for module in MODULES:
        for name in ("README.md", "variables.tf", "outputs.tf", "main.tf"):
            assert (module / name).exists(), f"{module.name} has no {name}"
    for env in ENVS:
        used: set[Path] = set()
        todo = _module_sources(env)
        while todo:
            module = todo.pop()
            used.add(module)
            todo |= _module_sources(module) - used
        assert used == {m.resolve() for m in MODULES}, (env.name, sorted(m.name for m in used))


def test_environments_keep_state_in_s3_with_locking_and_commit_no_account_details():
    for env in ENVS:
        terraform = [t for p in sorted(env.glob("*.tf")) for t in _parse(p).get("terraform", [])]
        (backend,) = [body for t in terraform for b in t.get("backend", []) for body in b.values()]
        assert list(terraform[0]["backend"][0]) == ['"s3"'], env.name
        assert backend["encrypt"] is True and backend["use_lockfile"] is True, env.name
        for example in ("terraform.tfvars.example", "backend.hcl.example"):
            text = (env / example).read_text()
            assert not re.search(r"password|secret|AKIA[0-9A-Z]{16}", text, re.I), (env.name, example)
    ignored = (TERRAFORM.parents[1] / ".gitignore").read_text()
    assert "infra/terraform/**/terraform.tfvars" in ignored and "*.tfstate" in ignored


def _resources(kind: str) -> list[tuple[str, dict]]:
    """Every resource of one kind in the modules: (module/name, body)."""
    out = []
    for module in MODULES:
        for path in sorted(module.glob("*.tf")):
            for block in _parse(path).get("resource", []):
                for name, body in block.get(f'"{kind}"', {}).items():
                    out.append((f"{module.name}/{_unquote(name)}", body))
    return out


def test_every_ecs_container_is_health_checked_logged_and_runs_as_the_images_user():
    """ECS restarts a container whose health check fails (the docker stack's checks:
    docker/compose.yaml); every task logs to CloudWatch and none runs as root."""
    tasks = _resources("aws_ecs_task_definition")
    assert {name for name, _ in tasks} >= {"dagster/dagster", "services/service"}
    for name, body in tasks:
        containers = body["container_definitions"]  # jsonencode([...]), as HCL text
        for key in ("healthCheck", "logConfiguration", "user"):
            assert re.search(rf"\b{key}\s*=", containers), f"{name}: no {key}"
        assert '"10001:10001"' in containers, f"{name}: not the image's user"
        assert re.search(r"\bsecrets\s*=", containers), f"{name}: secrets must come from Secrets Manager"


def test_no_secret_travels_in_the_tasks_plain_environment():
    """The settings every task gets as plain environment (modules/adlake) hold no secret:
    those reach the tasks from Secrets Manager (`secrets`), never the task definition."""
    blocks = _parse(TERRAFORM / "modules" / "adlake" / "main.tf")["locals"]
    (environment,) = [block["environment"] for block in blocks if "environment" in block]
    assert "ADLAKE_KAFKA_AUTH" in environment and "AWS_REGION" in environment
    secrets = {"ADLAKE_HMAC_KEY", "ADLAKE_CLICKHOUSE_PASSWORD", "ADLAKE_REDIS_URL", "DAGSTER_PG_PASSWORD"}
    assert not secrets & set(environment)
    # A secret's ARN may travel (the task fetches it with its role); the value never does.
    assert not [k for k in environment if re.search(r"(PASSWORD|TOKEN|_KEY)$", k)], environment
