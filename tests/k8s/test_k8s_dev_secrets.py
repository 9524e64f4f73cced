"""k8s/overlays/dev/make-dev-secrets.sh, run for real without a cluster: a stand-in kubectl on
PATH records what would be applied (the secrets themselves come from the real kubectl's
`create secret --dry-run=client`). Every Secret the dev overlay references is made, and the dev
CA's certificates are the identities the broker's ACL expects."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from support.k8s_manifests import K8S, kubectl, referenced_secrets, render

SHIM = """#!/bin/sh
case "$*" in
  *"get namespace"*) exit 0 ;;
  *"apply -f -"*) cat >> "$APPLIED"; echo "---" >> "$APPLIED" ;;
  *) exec "$REAL_KUBECTL" "$@" ;;
esac
"""


def _subject_cn(pem: Path) -> str:
    out = subprocess.run(
        ["openssl", "x509", "-in", str(pem), "-noout", "-subject", "-nameopt", "multiline"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(line.split("=", 1)[1].strip() for line in out.splitlines() if "commonName" in line)


def test_the_dev_script_makes_every_secret_the_dev_overlay_uses(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the dev secrets script needs it")
    shim = tmp_path / "bin" / "kubectl"
    shim.parent.mkdir()
    shim.write_text(SHIM)
    shim.chmod(0o755)
    applied = tmp_path / "applied.yaml"
    env = {
        **os.environ,
        "PATH": f"{shim.parent}:{os.environ['PATH']}",
        "APPLIED": str(applied),
        "REAL_KUBECTL": kubectl(),
    }
    subprocess.run(
        ["bash", str(K8S / "overlays" / "dev" / "make-dev-secrets.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    secrets = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all(applied.read_text())
        if d and d["kind"] == "Secret"
    }
    assert referenced_secrets(render("dev")) - set(secrets) == set()
    assert all(d["metadata"]["namespace"] == "msm-dev" for d in secrets.values())

    pki = tmp_path / "pki"
    pki.mkdir()
    for name, value in secrets["msm-dev-pki"]["data"].items():
        (pki / name).write_bytes(base64.b64decode(value))
    for svc in ("ingest", "commander", "provisioner"):
        cert = pki / f"{svc}.crt"
        cert.write_bytes(base64.b64decode(secrets[f"msm-mqtt-{svc}"]["data"]["tls.crt"]))
        assert _subject_cn(cert) == svc  # the broker's ACL user of this service
    for cert in ("server.crt", "localiot.crt", "claim.crt", "ingest.crt"):
        verify = subprocess.run(
            ["openssl", "verify", "-CAfile", str(pki / "ca.crt"), str(pki / cert)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "msm-amqp-api" in secrets
    url = base64.b64decode(secrets["msm-amqp-api"]["data"]["url"]).decode()
    assert url.startswith("amqp://msm-dev:") and url.endswith("@msm-rabbitmq:5672/%2F")
    assert "guest" not in url
