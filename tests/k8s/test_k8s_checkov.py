"""checkov's Kubernetes policies over every rendered overlay, offline (`--skip-download`), as a
second opinion beside our own rules. checkov lives in .local/tools/checkov (`make k8s-tools`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from support.k8s_manifests import OVERLAYS, render
from support.services import ROOT

CHECKOV = ROOT / ".local" / "tools" / "checkov" / "bin" / "checkov"
# Skipped everywhere, with the reason:
SKIPPED = {
    # Tags here, digests in a release: the release overlay pins `images[].digest`.
    "CKV_K8S_43": "images are pinned by digest in the release overlay, not in the repository",
    # With digest-pinned (immutable) images IfNotPresent pulls exactly the same bytes.
    "CKV_K8S_15": "imagePullPolicy IfNotPresent is right for immutable, digest-pinned images",
    # The settings classes read MSM_MONGO_URI, MSM_AMQP_URL, MSM_HOOK_SECRET ... from the
    # environment (pydantic-settings); files would need *_FILE settings in the services first.
    "CKV_K8S_35": "the services read these secrets from environment variables (no *_FILE yet)",
}


def test_checkov_finds_nothing_in_any_overlay(tmp_path: Path) -> None:
    if not CHECKOV.exists():
        pytest.skip(f"checkov is not installed at {CHECKOV}: `make k8s-tools` installs it")
    files = []
    for overlay in OVERLAYS:
        path = tmp_path / f"{overlay}.yaml"
        path.write_text(yaml.safe_dump_all(render(overlay)))
        files += ["-f", str(path)]
    done = subprocess.run(
        [
            str(CHECKOV),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "--skip-check",
            ",".join(SKIPPED),
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.stdout, done.stderr[-2000:]
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{c['check_id']} {c['check_name']}: {c['resource']}"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    assert sum(r["summary"]["passed"] for r in reports) > 1000
    assert failed == []
