"""The entry point as operators run it: `serve` under gunicorn (seeding the allowlist), the
Lambda adapter calling it with an HMAC signature, `allowlist import`, `setup --dry-run`."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from provisioner_helpers import HOOK_SECRET, HOOK_TOKEN, hook_event, manifest, serials
from support.processes import service_env, serving
from support.services import ROOT

pytestmark = pytest.mark.integration
EXE = str(ROOT / ".venv/bin/msm-provisioner")


def env_for(endpoints: Any, mongo_db: Any, amqp_url: str, **extra: str) -> dict[str, str]:
    return service_env(
        os.environ,
        endpoints,
        mongo_db,
        amqp_url,
        MSM_AWS_ENDPOINT_URL=endpoints.aws_endpoint_url,
        **extra,
    )


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """One `msm-provisioner` command; its exit code is the caller's to check."""
    cmd = [EXE, *args]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def served(
    tmp_path: Path, endpoints: Any, mongo_db: Any, amqp_url: str
) -> Iterator[tuple[str, list[str], str]]:
    names = serials(2)
    seed = tmp_path / "seed.csv"
    seed.write_text(manifest(names))
    hook = {"MSM_HOOK_TOKEN": HOOK_TOKEN, "MSM_HOOK_SECRET": HOOK_SECRET}
    env = env_for(endpoints, mongo_db, amqp_url, MSM_PROVISIONER_SEED_ALLOWLIST=str(seed), **hook)
    with serving(EXE, env, "MSM_PROVISIONER_PORT", wait_s=30) as (base, ops):
        yield base, names, ops


def test_serve_seeds_the_allowlist_and_answers_the_lambda(served: Any, mongo_db: Any) -> None:
    base, (allowed, other), ops = served
    spec = importlib.util.spec_from_file_location("hook_lambda", ROOT / "deploy/aws/hook_lambda.py")
    assert spec is not None and spec.loader is not None
    lam = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lam)
    env = {"MSM_PROVISIONER_HOOK_URL": f"{base}/hook", "MSM_HOOK_SECRET": HOOK_SECRET}

    answer = lam.handler(hook_event(allowed), None, env=env)
    assert answer["allowProvisioning"] is True
    assert (
        answer["parameterOverrides"]["DeviceImei"]
        == mongo_db["provisioning_allowlist"].find_one({"_id": allowed})["imei"]
    )
    assert lam.handler(hook_event(allowed), None, env=env) == {"allowProvisioning": False}
    wrong = {**env, "MSM_HOOK_SECRET": "not-the-secret-" + "z" * 20}
    assert lam.handler(hook_event(other), None, env=wrong) == {"allowProvisioning": False}
    assert mongo_db["devices"].find_one({"_id": allowed})["status"] == "active"
    assert mongo_db["devices"].find_one({"_id": other}) is None

    request = urllib.request.Request(
        f"{base}/hook",
        data=json.dumps(hook_event(other)).encode(),
        headers={"Authorization": f"Bearer {HOOK_TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=5) as r:  # localiot's way: a bearer token
        assert json.loads(r.read())["allowProvisioning"] is True
    with urllib.request.urlopen(f"{ops}/metrics", timeout=5) as r:  # the ops port only
        assert b"msm_provisioner_hook_decisions_total" in r.read()
    with pytest.raises(urllib.error.HTTPError) as public:
        urllib.request.urlopen(f"{base}/metrics", timeout=5)
    assert public.value.code == 404


def test_allowlist_import_command_is_idempotent(
    tmp_path: Path, endpoints: Any, mongo_db: Any, amqp_url: str
) -> None:
    csv = tmp_path / "factory.csv"
    csv.write_text(manifest(serials(3)))
    env = env_for(endpoints, mongo_db, amqp_url)
    first = cli(env, "allowlist", "import", str(csv))
    again = cli(env, "allowlist", "import", str(csv))
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert "'inserted': 3" in first.stdout and "'unchanged': 3" in again.stdout
    assert mongo_db["provisioning_allowlist"].count_documents({}) == 3
    csv.write_text("serial,imei\nbad/serial,1\n")
    bad = cli(env, "allowlist", "import", str(csv))
    assert bad.returncode == 1 and f"{csv}:2:" in bad.stderr


def test_setup_dry_run_prints_the_plan(
    endpoints: Any, mongo_db: Any, amqp_url: str, tmp_path: Path
) -> None:
    env = env_for(
        endpoints,
        mongo_db,
        amqp_url,
        MSM_ENV="local",
        MSM_PROVISIONER_TEMPLATE_NAME=f"dry-{os.getpid()}",
        MSM_PROVISIONER_CLAIM_OUT_DIR=str(tmp_path / "claim"),
        MSM_PROVISIONER_CLAIM_CERT_FILE=str(tmp_path / "none.crt"),
    )
    done = cli(env, "setup", "--dry-run", timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["would", "create", "device-policy"],
        ["would", "create", "claim-policy"],
        ["skip", "template", f"dry-{os.getpid()}:"],
        ["would", "create", "claim-certificate"],
    ]
    assert not (tmp_path / "claim").exists()
