"""/api/provisioning/...: the admin API behind the api service's access tokens (JWKS)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from api_service import ApiServer, api_settings
from bson import ObjectId
from cryptography.hazmat.primitives.asymmetric import ed25519
from msm_api import accounts
from msm_api.security import keys
from provisioner_helpers import (
    JwksServer,
    add_account,
    hook_event,
    manifest,
    post_hook,
    serials,
)

pytestmark = pytest.mark.integration


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(token: Any) -> dict[str, str]:
    return bearer(token(["admin"]))


def test_tokens_are_checked(client: Any, jwks: JwksServer, deps: Any, token: Any) -> None:
    url = "/api/provisioning/attempts"
    hits = jwks.hits
    # Role edits reach the provisioner within the role table's few seconds of caching.
    deps.store.db["roles"].insert_one({"name": "auditor", "permissions": ["audit:read"]})
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer("not-a-jwt")).status_code == 401
    forged = token(["admin"], key=ed25519.Ed25519PrivateKey.generate())
    assert client.get(url, headers=bearer(forged)).status_code == 401
    for claims in ({"typ": "refresh"}, {"aud": "other"}, {"iss": "someone"}, {"exp": 1}):
        assert client.get(url, headers=bearer(token(["admin"], **claims))).status_code == 401
    assert client.get(url, headers=bearer(token(["viewer"]))).status_code == 403
    assert client.get(url, headers=bearer(token(["auditor"]))).status_code == 200
    upload = client.post(
        "/api/provisioning/allowlist", data="serial,imei\n", headers=bearer(token(["auditor"]))
    )
    assert upload.status_code == 403
    assert client.get(url, headers=bearer(token(["admin"]))).status_code == 200
    assert jwks.hits - hits <= 2  # the keys are cached, not fetched per request


def test_a_token_loses_its_powers_when_its_account_changes(
    client: Any, jwks: JwksServer, deps: Any
) -> None:
    """The provisioner follows the api's rules: demoted, disabled or revoked is refused at once."""
    url = "/api/provisioning/attempts"
    users = deps.store.db["users"]
    for change in (
        {"roles": ["viewer"]},  # demoted (the token still says admin)
        {"disabled": True},
        {"token_version": 1},  # logged out everywhere, password changed, roles edited
    ):
        user_id = add_account(deps.store.db, ["admin"])
        headers = bearer(jwks.token(["admin"], sub=user_id))
        assert client.get(url, headers=headers).status_code == 200
        users.update_one({"_id": ObjectId(user_id)}, {"$set": change})
        expected = 403 if "roles" in change else 401
        assert client.get(url, headers=headers).status_code == expected, change
    missing = bearer(jwks.token(["admin"], sub=str(ObjectId())))
    assert client.get(url, headers=missing).status_code == 401
    no_version = jwks.token(["admin"], sub=add_account(deps.store.db, ["admin"]))
    unversioned = jwt.decode(no_version, options={"verify_signature": False})
    unversioned.pop("ver")
    legacy = jwt.encode(unversioned, jwks.key, algorithm="EdDSA", headers={"kid": jwks.kid})
    assert client.get(url, headers=bearer(legacy)).status_code == 401


def test_allowlist_upload_is_idempotent_and_refuses_bad_manifests(
    client: Any, admin: dict[str, str], deps: Any
) -> None:
    names = serials(3)
    text = manifest(names)
    first = client.post(
        "/api/provisioning/allowlist", data=text, headers=admin, content_type="text/csv"
    )
    assert first.status_code == 200
    assert first.json == {"inserted": 3, "updated": 0, "unchanged": 0, "total": 3}
    again = client.post(
        "/api/provisioning/allowlist",
        headers=admin,
        data={"file": (io.BytesIO(text.encode()), "m.csv")},
    )
    assert again.json == {"inserted": 0, "updated": 0, "unchanged": 3, "total": 3}

    bad = client.post(
        "/api/provisioning/allowlist",
        headers=admin,
        data=f"serial,imei\n{names[0]},123\nok-1,490154203237518\n",
    )
    assert bad.status_code == 400
    assert bad.content_type == "application/problem+json"
    assert bad.json["errors"] == [
        {"line": 2, "detail": "imei '123' is not 15 digits with a valid check digit"}
    ]
    listed = client.get("/api/provisioning/allowlist?limit=2", headers=admin).json
    assert [i["serial"] for i in listed["items"]] == names[:2]
    assert listed["next_after"] == names[1]
    audit = deps.store.db["audit_log"].find_one({"action": "provisioning.allowlist_import"})
    assert audit["actor"] == "alice" and audit["details"]["inserted"] == 3


def test_attempts_list_with_outcomes(client: Any, admin: dict[str, str], allow: Any) -> None:
    ok, refused = serials(2)
    allow(manifest([ok]))
    post_hook(client, hook_event(ok))
    post_hook(client, hook_event(refused))
    items = client.get("/api/provisioning/attempts", headers=admin).json["items"]
    assert [(i["serial"], i["outcome"], i["reason"]) for i in items] == [
        (refused, "denied", "not_listed"),
        (ok, "allowed", "allowed"),
    ]
    denied = client.get("/api/provisioning/attempts?outcome=denied", headers=admin).json
    assert [i["serial"] for i in denied["items"]] == [refused]
    assert client.get("/api/provisioning/attempts?outcome=x", headers=admin).status_code == 400


def test_decommission_rotate_and_expiring_over_http(
    client: Any, admin: dict[str, str], allow: Any, iot: Any, deps: Any
) -> None:
    one, two = serials(2)
    allow(manifest([one, two]))
    for serial in (one, two):
        cert = iot.create_keys_and_certificate(setAsActive=True)
        post_hook(client, hook_event(serial, cert["certificateId"], pem=cert["certificatePem"]))
        iot.create_thing(thingName=serial)
        iot.attach_thing_principal(thingName=serial, principal=cert["certificateArn"])

    rotated = client.post(f"/api/provisioning/devices/{one}/rotate", headers=admin)
    assert rotated.status_code == 202 and rotated.json["rotation"]["status"] == "pending"

    gone = client.post(
        f"/api/provisioning/devices/{two}/decommission",
        headers=admin,
        json={"certificate_status": "INACTIVE"},
    )
    assert gone.status_code == 200
    assert gone.json["status"] == "decommissioned" and gone.json["device_uuid"] == two
    cert_id = gone.json["certificate_id"]
    desc = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
    assert desc["status"] == "INACTIVE"
    assert client.post(f"/api/provisioning/devices/{two}/rotate", headers=admin).status_code == 409
    assert (
        client.post("/api/provisioning/devices/nope/decommission", headers=admin).status_code == 404
    )
    bad = client.post(
        f"/api/provisioning/devices/{one}/decommission",
        headers=admin,
        json={"certificate_status": "DELETED"},
    )
    assert bad.status_code == 400

    expiring = client.get("/api/provisioning/certificates/expiring?days=3650", headers=admin)
    assert [i["device_uuid"] for i in expiring.json["items"] if i["device_uuid"] in (one, two)] == [
        one
    ]  # moto's certificates are valid for a day; the decommissioned one is left out
    actions = {a["action"] for a in deps.store.db["audit_log"].find({"actor": "alice"})}
    assert {"provisioning.rotate", "provisioning.decommission"} <= actions


@pytest.fixture
def api_server(mongo_db: Any, endpoints: Any, amqp_url: str) -> Iterator[tuple[Any, str]]:
    """The real api service (its app, its keys) serving its JWKS over HTTP."""
    server = ApiServer(mongo_db, api_settings(endpoints, amqp_url))
    try:
        app = server.use(signing_key=keys.from_private_key(ed25519.Ed25519PrivateKey.generate()))
        yield app, server.jwks_url
    finally:
        server.close()


def test_tokens_issued_by_the_real_api_service(make_app: Any, api_server: Any) -> None:

    api, jwks_url = api_server
    api_client = api.test_client()
    login = api_client.post(
        "/api/auth/login", json={"email": "root@example.com", "password": "a-long-password-1"}
    )
    admin_token = login.get_json()["access_token"]
    accounts.create_user(
        api.extensions["msm"],
        username="op",
        email="op@example.com",
        password="a-long-password-2",
        roles=["operator"],
        now=datetime.now(UTC),
    )
    op = api_client.post(
        "/api/auth/login", json={"username": "op", "password": "a-long-password-2"}
    )
    op_token = op.get_json()["access_token"]

    client = make_app({"api_jwks_url": jwks_url}).test_client()
    url = "/api/provisioning/attempts"
    assert client.get(url, headers=bearer(admin_token)).status_code == 200
    assert client.get(url, headers=bearer(op_token)).status_code == 403  # no devices:manage
