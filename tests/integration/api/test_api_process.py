"""`msm-api` as operators run it: gunicorn with /metrics on the ops port only, the
`create-admin` recovery command, and refusing to start without MSM_ENV."""

from __future__ import annotations

import io
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from api_helpers import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD
from msm_api import recovery
from msm_api.security.passwords import PasswordHasher
from support.processes import service_env, serving

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
EXE = str(ROOT / ".venv/bin/msm-api")


def env_for(endpoints: Any, mongo_db: Any, tmp_path: Path, **extra: str) -> dict[str, str]:
    return service_env(
        {k: v for k, v in os.environ.items() if not k.startswith("MSM_")},
        endpoints,
        mongo_db,
        endpoints.amqp_url,
        MSM_SECRETS_DIR=str(tmp_path / "secrets"),
        MSM_API_BCRYPT_ROUNDS="4",
        **extra,
    )


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def served(endpoints: Any, mongo_db: Any, tmp_path: Path) -> Iterator[tuple[str, str]]:
    admin = {"MSM_API_ADMIN_EMAIL": ADMIN_EMAIL, "MSM_API_ADMIN_PASSWORD": ADMIN_PASSWORD}
    env = env_for(endpoints, mongo_db, tmp_path, MSM_API_WORKERS="2", **admin)
    with serving(EXE, env, "MSM_API_PORT", wait_s=60) as urls:
        yield urls


def test_metrics_are_served_on_the_ops_port_only(served: tuple[str, str]) -> None:
    base, ops = served
    for _ in range(6):  # spread over both workers
        assert get(f"{base}/api/openapi.json")[0] == 200
    status, body = get(f"{base}/metrics")
    assert status == 404 and "msm_api_requests_total" not in body
    status, body = get(f"{ops}/metrics")
    assert status == 200
    line = next(
        ln
        for ln in body.splitlines()
        if ln.startswith("msm_api_requests_total") and "/api/openapi.json" in ln
    )
    assert float(line.rsplit(" ", 1)[1]) >= 6  # every worker's requests, added up
    assert get(f"{ops}/readyz")[0] == 200


def test_create_admin_recovers_from_a_lock_out(
    make_app: Any, endpoints: Any, mongo_db: Any, tmp_path: Path
) -> None:
    app = make_app()
    client = app.test_client()
    old = client.post(
        "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    ).get_json()
    # Locked out: the only admin disabled and its password unknown (e.g. edited by a script).
    mongo_db["users"].update_one({"username": "admin"}, {"$set": {"disabled": True}})
    assert (
        client.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ).status_code
        == 401
    )
    env = env_for(endpoints, mongo_db, tmp_path)
    new_password = "recovered " + PASSWORD
    done = subprocess.run(
        [EXE, "create-admin", "--username", "admin", "--password-stdin"],
        input=new_password + "\n",
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "restored admin admin" in done.stdout
    assert new_password not in done.stdout + done.stderr
    fresh = client.post("/api/auth/login", json={"username": "admin", "password": new_password})
    assert fresh.status_code == 200
    token = fresh.get_json()["access_token"]
    users = client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert users.status_code == 200
    stale = client.get("/api/auth/me", headers={"Authorization": f"Bearer {old['access_token']}"})
    assert stale.status_code == 401
    entry = mongo_db["audit_log"].find_one({"action": "user.recover_admin"})
    assert entry is not None and entry["actor"].startswith("cli:")
    assert entry["details"] == {"username": "admin", "outcome": "restored"}


def test_create_admin_creates_one_and_refuses_short_passwords(mongo_db: Any) -> None:
    now = datetime.now(UTC)
    with pytest.raises(recovery.RecoveryError, match="--email"):
        recovery.restore_admin(
            mongo_db, PasswordHasher(4), username="ops2", email=None, password=PASSWORD, now=now
        )
    outcome, doc = recovery.restore_admin(
        mongo_db,
        PasswordHasher(4),
        username="ops2",
        email="Ops2@Example.com",
        password=PASSWORD,
        now=now,
    )
    assert outcome == "created" and doc["roles"] == ["admin"] and doc["email"] == "ops2@example.com"
    assert mongo_db["roles"].find_one({"name": "admin"}) is not None  # roles seeded if missing
    with pytest.raises(recovery.RecoveryError, match="at least 12"):
        recovery.read_password(True, io.StringIO("short\n"))
    assert recovery.read_password(True, io.StringIO(PASSWORD + "\n")) == PASSWORD


def test_without_msm_env_the_api_refuses_to_start_on_local_defaults(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSM_")}
    env["MSM_SECRETS_DIR"] = str(tmp_path / "secrets")
    done = subprocess.run(
        [EXE, "serve"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "MSM_ENV is not set" in done.stderr and "MSM_MONGO_URI" in done.stderr
    assert not (tmp_path / "secrets" / "jwt.pem").exists()  # no key generated for it
