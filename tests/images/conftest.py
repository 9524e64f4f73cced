"""Fixtures of the image smoke tests: podman, the images (built once per session), the PKI copy.

Skipped, with the reason in the summary, only where this machine cannot run containers at all.
A build that fails is a failed test.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from images_support import CONSOLE, SERVICES, Podman, cannot_run_containers, stage_host_files
from support.services import ROOT, Endpoints

BUILD_TIMEOUT_S = 900


@pytest.fixture(scope="session")
def podman() -> Podman:
    reason = cannot_run_containers()
    if reason:
        pytest.skip(f"this machine cannot run containers: {reason}")
    return Podman()


@pytest.fixture(scope="session")
def images(podman: Podman) -> dict[str, str]:
    """Every image, built (or found up to date in the layer cache) once per session."""
    names = [*SERVICES, *([CONSOLE] if CONSOLE else [])]
    started = time.monotonic()
    done = subprocess.run(
        ["bash", str(ROOT / "deploy/images/build.sh"), *names],
        cwd=ROOT,
        env=podman.env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    if done.returncode != 0:
        pytest.fail(f"deploy/images/build.sh failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    print(f"\nimages built in {time.monotonic() - started:.0f} s:\n{done.stdout}")
    return {name: f"localhost/{name}:latest" for name in names}


@pytest.fixture(scope="session")
def host_env(endpoints: Endpoints) -> dict[str, str]:
    """The local stack's settings (deploy/local/env.sh; `resolve()` exported them if unset)."""
    return dict(os.environ)


@pytest.fixture(scope="session")
def host_files(
    endpoints: Endpoints, host_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The PKI and the state files the settings name, staged for the containers (read-only)."""
    return stage_host_files(host_env, endpoints.pki_dir, tmp_path_factory.mktemp("images"))


@pytest.fixture
def containers(podman: Podman) -> Iterator[list]:
    """Containers a test starts; removed afterwards, their last log lines shown on failure."""
    started: list = []
    yield started
    for container in started:
        if container.running():
            print(f"--- {container.name} ({container.image}) ---\n{container.logs()}")
        container.remove()
