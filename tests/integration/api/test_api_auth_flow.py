from __future__ import annotations

import pytest
from api_helpers import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD

pytestmark = pytest.mark.integration


def test_first_admin_is_created_and_logs_in_by_email_or_username(auth, client):
    by_email = auth.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert by_email.status_code == 200
    body = by_email.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert auth.login("admin", ADMIN_PASSWORD).status_code == 200
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.get_json()["roles"] == ["admin"] and "users:manage" in me.get_json()["permissions"]
    assert "password" not in me.get_json()


def test_wrong_password_and_unknown_account_look_the_same(auth):
    auth.user("viewer")
    wrong = auth.login("viewer-user", "not the password")
    unknown = auth.login("nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.get_json().items() if k != "instance"}  # noqa: E731
    assert strip(wrong) == strip(unknown)


def test_login_is_throttled_per_account_then_per_address(auth):
    auth.user("viewer")
    for _ in range(3):
        assert auth.login("viewer-user", "wrong").status_code == 401
    locked = auth.login("viewer-user", PASSWORD)  # even the right password waits
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    # Another account from another address is unaffected...
    other = auth.user("operator")
    env = {"REMOTE_ADDR": "10.9.9.9"}
    assert auth.login(other["username"], environ_base=env).status_code == 200
    # ...but one address guessing many accounts is stopped too.
    for i in range(8):
        auth.login(f"guess-{i}", "wrong", environ_base={"REMOTE_ADDR": "10.7.7.7"})
    blocked = auth.login(other["username"], environ_base={"REMOTE_ADDR": "10.7.7.7"})
    assert blocked.status_code == 429


def test_refresh_rotates_and_reuse_revokes_the_family(auth, client):
    first = auth.tokens("operator")
    rotated = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    # The spent token presented again: refused, and the whole family is revoked.
    replay = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    after = client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401


def test_logout_revokes_the_refresh_token(auth, client):
    pair = auth.tokens("viewer")
    assert (
        client.post("/api/auth/logout", json={"refresh_token": pair["refresh_token"]}).status_code
        == 204
    )
    again = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401


def test_register_needs_users_manage_and_rejects_duplicates(auth, client):
    new = {
        "username": "newbie",
        "email": "newbie@example.com",
        "password": PASSWORD,
        "roles": ["operator"],
    }
    assert (
        client.post("/api/auth/register", json=new, headers=auth.headers("operator")).status_code
        == 403
    )
    created = client.post("/api/auth/register", json=new, headers=auth.headers("admin"))
    assert created.status_code == 201 and "password" not in created.get_json()
    stored = auth.deps.db["users"].find_one({"username": "newbie"})
    assert stored["password"].startswith("$2") and stored["password"] != PASSWORD
    assert (
        client.post("/api/auth/register", json=new, headers=auth.headers("admin")).status_code
        == 409
    )
    assert auth.login("newbie").status_code == 200
    bad_role = {**new, "username": "x-user", "email": "x@example.com", "roles": ["ghost"]}
    resp = client.post("/api/auth/register", json=bad_role, headers=auth.headers("admin"))
    # Well formed but no such role here: a conflict with the current state, like a taken name.
    assert resp.status_code == 409 and resp.get_json()["field"] == "roles"


def test_disabling_a_user_ends_their_sessions(auth, client):
    pair = auth.tokens("viewer")
    user = auth.user("viewer")
    resp = client.patch(
        f"/api/users/{user['_id']}", json={"disabled": True}, headers=auth.headers("admin")
    )
    assert resp.status_code == 200 and resp.get_json()["disabled"] is True
    assert auth.login("viewer-user").status_code == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 401
    )
    listed = client.get("/api/users?limit=1", headers=auth.headers("admin")).get_json()
    assert len(listed["items"]) == 1 and listed["next_cursor"]


def test_role_management(auth, client):
    admin = auth.headers("admin")
    roles = client.get("/api/role", headers=auth.headers("viewer")).get_json()["items"]
    assert {r["name"] for r in roles} == {"admin", "operator", "viewer"}
    created = client.post(
        "/api/role", json={"name": "auditor", "permissions": ["audit:read"]}, headers=admin
    )
    assert created.status_code == 201
    assert (
        client.post(
            "/api/role", json={"name": "auditor", "permissions": []}, headers=admin
        ).status_code
        == 409
    )
    assert (
        client.put("/api/role/viewer", json={"permissions": []}, headers=admin).status_code == 409
    )
    assert (
        client.post(
            "/api/role", json={"name": "x1", "permissions": ["root:all"]}, headers=admin
        ).status_code
        == 400
    )
    auth.user("auditor", "auditor-1")
    token = auth.login("auditor-1").get_json()["access_token"]
    assert client.get("/api/audit", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.delete("/api/role/auditor", headers=admin).status_code == 409  # still held
    updated = client.put("/api/role/auditor", json={"permissions": ["devices:read"]}, headers=admin)
    assert updated.get_json()["permissions"] == ["devices:read"]
    assert client.get("/api/role/nope", headers=admin).status_code == 404
