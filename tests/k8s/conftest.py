"""Fixtures of the offline Kubernetes checks: rendered overlays, or a skip with the reason."""

from __future__ import annotations

import pytest
from support.k8s_manifests import NoKubectl, kubectl


@pytest.fixture(scope="session", autouse=True)
def _kubectl_available() -> None:
    try:
        kubectl()
    except NoKubectl as exc:
        pytest.skip(str(exc))
