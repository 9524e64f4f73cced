"""deploy/aws/hook_lambda.py: forwards AWS's event, signed; any failure is a denial."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from msm_provisioner.domain.hook_auth import HookCredentials, authenticated

ROOT = Path(__file__).resolve().parents[3]
SECRET = "k" * 32
ENV = {"MSM_PROVISIONER_HOOK_URL": "https://prov.example/hook", "MSM_HOOK_SECRET": SECRET}
EVENT = {
    "claimCertificateId": "c" * 64,
    "certificateId": "d" * 64,
    "parameters": {"SerialNumber": "SIM-000001"},
}


@pytest.fixture(scope="module")
def lam() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hook_lambda", ROOT / "deploy/aws/hook_lambda.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeProvisioner:
    """Answers like the provisioner, and checks the signature like it does."""

    def __init__(self, status: int = 200, answer: Any = None, raises: Exception | None = None):
        self.status = status
        self.answer = (
            answer
            if answer is not None
            else {"allowProvisioning": True, "parameterOverrides": {"DeviceImei": "1"}}
        )
        self.raises = raises
        self.calls: list[tuple[str, bytes, dict[str, str], float]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float):
        self.calls.append((url, body, headers, timeout))
        if self.raises is not None:
            raise self.raises
        payload = self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer)
        return self.status, payload if isinstance(payload, bytes) else payload.encode()


def test_forwards_the_event_signed(lam: ModuleType) -> None:
    fake = FakeProvisioner()
    answer = lam.handler(EVENT, None, post=fake, now=lambda: 1_800_000_000, env=ENV)
    assert answer == {"allowProvisioning": True, "parameterOverrides": {"DeviceImei": "1"}}
    url, body, headers, _timeout = fake.calls[0]
    assert url == ENV["MSM_PROVISIONER_HOOK_URL"] and json.loads(body) == EVENT
    assert authenticated(HookCredentials(secret=SECRET), headers, body, 1_800_000_000)


@pytest.mark.parametrize(
    "fake",
    [
        FakeProvisioner(status=503),
        FakeProvisioner(status=401),
        FakeProvisioner(answer=b"<html>"),
        FakeProvisioner(answer={"allowProvisioning": "yes"}),
        FakeProvisioner(answer={"allowProvisioning": True, "parameterOverrides": {"a": 1}}),
        FakeProvisioner(answer={"allowProvisioning": False}),
        FakeProvisioner(raises=TimeoutError("timed out")),
        FakeProvisioner(raises=OSError("connection refused")),
    ],
    ids=["503", "401", "not json", "not bool", "bad overrides", "denied", "timeout", "refused"],
)
def test_anything_but_a_clean_allow_is_a_denial(lam: ModuleType, fake: FakeProvisioner) -> None:
    assert lam.handler(EVENT, None, post=fake, env=ENV) == {"allowProvisioning": False}


def test_without_configuration_it_denies(lam: ModuleType) -> None:
    fake = FakeProvisioner()
    assert lam.handler(EVENT, None, post=fake, env={}) == {"allowProvisioning": False}
    assert fake.calls == []


def test_the_timeout_fits_the_time_lambda_has_left(lam: ModuleType) -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 2000

    fake = FakeProvisioner()
    lam.handler(EVENT, Context(), post=fake, env=ENV)
    assert fake.calls[0][3] == pytest.approx(1.7)


def test_a_plain_http_hook_url_is_refused(lam: ModuleType) -> None:
    env = {**ENV, "MSM_PROVISIONER_HOOK_URL": "http://prov.example/hook"}
    assert lam.handler(EVENT, None, env=env) == {"allowProvisioning": False}
