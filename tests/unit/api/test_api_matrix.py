"""Every endpoint x every role x bad tokens: authentication and permissions come first."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest
from api_fakes import CUSTOM_ROLES
from msm_api.domain.permissions import BUILTIN_ROLES
from msm_api.routing import spec_of

GRANTS = {**BUILTIN_ROLES, **CUSTOM_ROLES}
ROLES = tuple(GRANTS)


def routes(app):
    for rule in app.url_map.iter_rules():
        spec = spec_of(app.view_functions[rule.endpoint])
        if spec is not None:
            yield re.sub(r"<[^>]+>", "x1", rule.rule), spec


def call(client, path, spec, headers):
    return client.open(path, method=spec.method, headers=headers)


def test_every_declared_route_is_in_the_matrix(unit_app):
    found = {(spec.method, path) for path, spec in routes(unit_app)}
    assert len(found) >= 29
    assert ("POST", "/api/devices/x1/reboot") in found and ("GET", "/api/audit") in found


@pytest.mark.parametrize("case", ["none", "garbage", "expired", "tampered", "wrong_scheme"])
def test_bad_tokens_get_401_on_every_protected_endpoint(unit_app, bearer, case):
    client = unit_app.test_client()
    good = bearer("admin")["Authorization"].split(" ", 1)[1]
    tampered = good[:-4] + ("BBBB" if good[-4:] == "AAAA" else "AAAA")
    header = {
        "none": {},
        "garbage": {"Authorization": "Bearer not-a-jwt"},
        "expired": bearer("admin", now=datetime.now(UTC) - timedelta(hours=1)),
        "tampered": {"Authorization": f"Bearer {tampered}"},
        "wrong_scheme": {"Authorization": f"Basic {good}"},
    }[case]
    for path, spec in routes(unit_app):
        resp = call(client, path, spec, header)
        if spec.needs_token:
            assert resp.status_code == 401, (spec.method, path, case)
            assert resp.mimetype == "application/problem+json"
            assert "Bearer" in resp.headers["WWW-Authenticate"]
        else:
            assert resp.status_code != 401 or path.startswith("/api/auth/"), (path, case)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_permissions(unit_app, bearer, role):
    client = unit_app.test_client()
    granted = set(GRANTS[role])
    for path, spec in routes(unit_app):
        resp = call(client, path, spec, bearer(role))
        if spec.permission is not None and spec.permission not in granted:
            assert resp.status_code == 403, (role, spec.method, path)
        else:
            # Past the permission check; the database is unreachable in unit tests.
            assert resp.status_code not in (401, 403), (role, spec.method, path, resp.json)


def test_a_token_without_roles_is_forbidden_everywhere_but_identity(unit_app, bearer):
    client = unit_app.test_client()
    for path, spec in routes(unit_app):
        resp = call(client, path, spec, bearer())
        expected_403 = spec.permission is not None
        assert (resp.status_code == 403) == expected_403, (spec.method, path)


def _account_of(unit_app, headers):
    token = headers["Authorization"].split(" ", 1)[1]
    return unit_app.extensions["msm"].tokens.verify_access(token).user_id


@pytest.mark.parametrize(
    "change", [{"roles": ("viewer",)}, {"disabled": True}, {"token_version": 1}, None]
)
def test_a_token_loses_its_powers_as_soon_as_its_account_changes(
    unit_app, bearer, fake_accounts, change
):
    """Demoted, disabled, logged out everywhere / password changed, deleted: the very next
    request with the token already issued is refused."""
    client = unit_app.test_client()
    headers = bearer("operator")
    user_id = _account_of(unit_app, headers)
    command = ("POST", "/api/devices/x1/reboot")
    before = client.open(command[1], method=command[0], headers=headers)
    assert before.status_code not in (401, 403)
    if change is None:
        del fake_accounts.by_id[user_id]
    else:
        fake_accounts.by_id[user_id] = dataclasses.replace(fake_accounts.by_id[user_id], **change)
    demoted = change == {"roles": ("viewer",)}
    for path, spec in routes(unit_app):
        if not spec.needs_token:
            continue
        resp = call(client, path, spec, headers)
        if demoted:
            refused = spec.permission is not None and spec.permission not in GRANTS["viewer"]
            assert (resp.status_code == 403) == refused, (spec.method, path)
        else:
            assert resp.status_code == 401, (change, spec.method, path)
