"""One naming scheme: a service's own settings are `MSM_<SERVICE>_*`, the shared ones `MSM_*`; the
old `MSM_<NAME>` of a renamed setting still works for one release, with a DeprecationWarning.
(The commander's cases: tests/unit/commander/test_commander_settings.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from msm_api.settings import ApiSettings
from msm_common.settings import CommonSettings
from msm_ingest.settings import IngestSettings
from msm_provisioner.settings import ProvisionerSettings

RENAMED = [  # settings class, field, old name, new name
    (ApiSettings, "admin_email", "MSM_ADMIN_EMAIL", "MSM_API_ADMIN_EMAIL"),
    (ApiSettings, "jwt_issuer", "MSM_JWT_ISSUER", "MSM_API_JWT_ISSUER"),
    (ProvisionerSettings, "api_jwks_url", "MSM_API_JWKS_URL", "MSM_PROVISIONER_API_JWKS_URL"),
    (ProvisionerSettings, "api_jwt_issuer", "MSM_API_JWT_ISSUER", "MSM_PROVISIONER_API_JWT_ISSUER"),
]
IDS = [f"{old}->{new}" for _, _, old, new in RENAMED]


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("MSM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MSM_ENV", "local")
    return monkeypatch


@pytest.mark.parametrize(("cls", "field", "old", "new"), RENAMED, ids=IDS)
def test_an_old_name_still_works_with_a_warning_naming_the_new_one(
    env: pytest.MonkeyPatch, cls: type[CommonSettings], field: str, old: str, new: str
) -> None:
    env.setenv(old, "from-the-old-name")
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated.*set {new} instead"):
        assert getattr(cls(), field) == "from-the-old-name"


@pytest.mark.parametrize(("cls", "field", "old", "new"), RENAMED, ids=IDS)
def test_the_new_name_wins_over_the_old_one(
    env: pytest.MonkeyPatch, cls: type[CommonSettings], field: str, old: str, new: str
) -> None:
    env.setenv(old, "from-the-old-name")
    env.setenv(new, "from-the-new-name")
    with pytest.warns(DeprecationWarning, match=old):
        assert getattr(cls(), field) == "from-the-new-name"
    env.delenv(old)
    assert getattr(cls(), field) == "from-the-new-name"  # and alone, without a warning


def test_names_that_already_followed_the_scheme_did_not_change(env: pytest.MonkeyPatch) -> None:
    # No warning from any of these (pytest turns a warning into an error here).
    env.setenv("MSM_API_PORT", "8181")
    env.setenv("MSM_METRICS_PORT", "9999")  # shared: MSM_*
    env.setenv("MSM_PROVISIONER_CLAIM_QUOTA", "12")
    env.setenv("MSM_HOOK_TOKEN", "t" * 24)  # the hook's callers send it under the same name
    env.setenv("MSM_INGEST_BATCH_MAX", "7")
    api, provisioner, ingest = ApiSettings(), ProvisionerSettings(), IngestSettings()
    assert (api.api_port, api.metrics_port) == (8181, 9999)
    assert provisioner.provisioner_claim_quota == 12
    assert provisioner.hook_token.get_secret_value() == "t" * 24
    assert ingest.batch_max == 7


def test_ingest_reads_only_msm_ingest_names(env: pytest.MonkeyPatch) -> None:
    env.setenv("MSM_BATCH_MAX", "7")  # never an ingest name: neither read nor warned about
    assert IngestSettings().batch_max == 500


def test_the_api_and_the_provisioner_no_longer_share_gunicorn_settings(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("MSM_API_WORKERS", "3")
    env.setenv("MSM_PROVISIONER_WORKERS", "1")
    assert (ApiSettings().workers, ProvisionerSettings().workers) == (3, 1)


def test_an_operator_sees_the_deprecation_without_any_warning_option() -> None:
    # Python hides a DeprecationWarning raised outside __main__; this one is shown.
    code = "from msm_api.settings import ApiSettings; print(ApiSettings().workers)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSM_", "PYTHONWARN"))}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "MSM_ENV": "local", "MSM_WORKERS": "3"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "3"
    assert "MSM_WORKERS is deprecated" in done.stderr
    assert "set MSM_API_WORKERS instead" in done.stderr
