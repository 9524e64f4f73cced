"""Second line of defence: a token's powers follow its account at once; nobody escalates their
own privileges; nobody can lock the admins out."""

from __future__ import annotations

import threading

import pytest
from api_helpers import PASSWORD, add_device

pytestmark = pytest.mark.integration
REBOOT = {"delay_s": 1}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def patch(client, auth, user, body, role="admin", headers=None):
    return client.patch(
        f"/api/users/{user['_id']}", json=body, headers=headers or auth.headers(role)
    )


def test_a_demoted_operator_cannot_command_with_the_token_already_issued(auth, client, mongo_db):
    add_device(mongo_db, "dev-demote")
    operator = auth.user("operator")
    token = auth.tokens("operator")["access_token"]
    first = client.post("/api/devices/dev-demote/reboot", json=REBOOT, headers=bearer(token))
    assert first.status_code == 202
    assert patch(client, auth, operator, {"roles": ["viewer"]}).status_code == 200
    again = client.post("/api/devices/dev-demote/reboot", json=REBOOT, headers=bearer(token))
    assert again.status_code == 401  # the token's version is gone: log in again
    fresh = auth.login(operator["username"]).get_json()["access_token"]
    as_viewer = client.post("/api/devices/dev-demote/reboot", json=REBOOT, headers=bearer(fresh))
    assert as_viewer.status_code == 403
    assert client.get("/api/devices/dev-demote", headers=bearer(fresh)).status_code == 200


def test_a_disabled_user_cannot_read_with_the_token_already_issued(auth, client, mongo_db):
    add_device(mongo_db, "dev-disabled")
    viewer = auth.user("viewer")
    token = auth.tokens("viewer")["access_token"]
    assert client.get("/api/devices", headers=bearer(token)).status_code == 200
    assert patch(client, auth, viewer, {"disabled": True}).status_code == 200
    assert client.get("/api/devices", headers=bearer(token)).status_code == 401
    assert client.get("/api/auth/me", headers=bearer(token)).status_code == 401


def test_password_change_and_logout_end_the_access_token(auth, client):
    viewer = auth.user("viewer")
    pair = auth.tokens("viewer")
    assert patch(client, auth, viewer, {"password": "another long password"}).status_code == 200
    assert client.get("/api/auth/me", headers=bearer(pair["access_token"])).status_code == 401
    pair = auth.login(viewer["username"], "another long password").get_json()
    out = client.post("/api/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert out.status_code == 204
    assert client.get("/api/auth/me", headers=bearer(pair["access_token"])).status_code == 401
    pair = auth.login(viewer["username"], "another long password").get_json()
    every = client.post("/api/auth/logout-all", headers=bearer(pair["access_token"]))
    assert every.status_code == 204
    assert client.get("/api/auth/me", headers=bearer(pair["access_token"])).status_code == 401
    spent = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert spent.status_code == 401


def test_user_ids_are_normalised_before_sessions_are_revoked(auth, client):
    viewer = auth.user("viewer")
    pair = auth.tokens("viewer")
    shouted = str(viewer["_id"]).upper()
    resp = client.patch(
        f"/api/users/{shouted}", json={"disabled": True}, headers=auth.headers("admin")
    )
    assert resp.status_code == 200
    again = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401


def _user_manager(auth, client):
    """A user whose custom role holds users:manage and what a viewer holds, nothing else."""
    admin = auth.headers("admin")
    perms = ["users:manage", "devices:read", "telemetry:read", "config:read"]
    role = {"name": "user-manager", "permissions": perms}
    assert client.post("/api/role", json=role, headers=admin).status_code == 201
    manager = auth.user("user-manager", "manager-1")
    token = auth.login("manager-1").get_json()["access_token"]
    return manager, bearer(token)


def test_a_users_manage_holder_cannot_promote_itself(auth, client):
    manager, headers = _user_manager(auth, client)
    for roles in (["admin"], ["user-manager", "operator"]):
        resp = patch(client, auth, manager, {"roles": roles}, headers=headers)
        assert resp.status_code == 403, roles
        assert resp.mimetype == "application/problem+json"
    assert auth.deps.db["users"].find_one({"_id": manager["_id"]})["roles"] == ["user-manager"]
    # Nor may an admin disable or demote itself (with another admin around: else 409).
    auth.user("admin", "admin-2")
    me = auth.deps.db["users"].find_one({"username": "admin"})
    assert patch(client, auth, me, {"disabled": True}).status_code == 403
    assert patch(client, auth, me, {"roles": ["viewer"]}).status_code == 403


def test_a_users_manage_holder_grants_only_what_it_holds(auth, client):
    _manager, headers = _user_manager(auth, client)
    viewer = auth.user("viewer")
    assert patch(client, auth, viewer, {"roles": ["admin"]}, headers=headers).status_code == 403
    assert patch(client, auth, viewer, {"roles": ["operator"]}, headers=headers).status_code == 403
    new = {"username": "sneaky", "email": "sneaky@example.com", "password": PASSWORD}
    made = client.post("/api/auth/register", json={**new, "roles": ["admin"]}, headers=headers)
    assert made.status_code == 403
    assert auth.deps.db["users"].find_one({"username": "sneaky"}) is None
    # It cannot touch an account holding more than it does (disable the admin, say)...
    admin = auth.deps.db["users"].find_one({"username": "admin"})
    assert patch(client, auth, admin, {"disabled": True}, headers=headers).status_code == 403
    # ...nor write itself a role with permissions it lacks.
    role = {"name": "root", "permissions": ["devices:command"]}
    assert client.post("/api/role", json=role, headers=auth.headers("admin")).status_code == 201
    # What it holds it may give.
    ok = patch(client, auth, viewer, {"roles": ["user-manager"]}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["roles"] == ["user-manager"]


def test_a_roles_manager_cannot_write_itself_more_permissions(auth, client):
    admin = auth.headers("admin")
    role = {"name": "role-editor", "permissions": ["roles:manage"]}
    assert client.post("/api/role", json=role, headers=admin).status_code == 201
    auth.user("role-editor", "editor-1")
    headers = bearer(auth.login("editor-1").get_json()["access_token"])
    grown = client.put(
        "/api/role/role-editor",
        json={"permissions": ["roles:manage", "users:manage"]},
        headers=headers,
    )
    assert grown.status_code == 403
    made = client.post(
        "/api/role", json={"name": "x-all", "permissions": ["devices:command"]}, headers=headers
    )
    assert made.status_code == 403


def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(auth, client):
    admin = auth.deps.db["users"].find_one({"username": "admin"})
    for body in ({"disabled": True}, {"roles": ["operator"]}, {"roles": []}):
        resp = patch(client, auth, admin, body)
        assert resp.status_code == 409, body
        assert resp.mimetype == "application/problem+json"
        assert "last enabled admin" in resp.get_json()["detail"]
    assert client.get("/api/users", headers=auth.headers("admin")).status_code == 200
    # With a second admin, either may retire the other; then that one is the last.
    second = auth.user("admin", "admin-2")
    other = bearer(auth.login("admin-2").get_json()["access_token"])
    assert patch(client, auth, admin, {"roles": ["operator"]}, headers=other).status_code == 200
    assert patch(client, auth, second, {"disabled": True}, headers=other).status_code == 409


def test_two_admins_retiring_each_other_at_once_leave_one(auth, client):
    first = auth.deps.db["users"].find_one({"username": "admin"})
    second = auth.user("admin", "admin-2")
    tokens = {
        "a": auth.headers("admin"),
        "b": bearer(auth.login("admin-2").get_json()["access_token"]),
    }
    results: dict[str, int] = {}

    def retire(who: str, target: dict) -> None:
        c = auth.app.test_client()
        resp = c.patch(f"/api/users/{target['_id']}", json={"disabled": True}, headers=tokens[who])
        results[who] = resp.status_code

    threads = [
        threading.Thread(target=retire, args=("a", second)),
        threading.Thread(target=retire, args=("b", first)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    enabled = auth.deps.db["users"].count_documents({"roles": "admin", "disabled": {"$ne": True}})
    assert enabled >= 1, results
    assert sorted(results.values()) != [200, 200]
