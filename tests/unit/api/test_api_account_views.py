"""The user, role and audit views' success paths on the in-memory stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from accounts_fake import InMemoryUserStore
from api_fakes import Fakes
from bson import ObjectId

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(store_app: Any) -> Any:
    return store_app.test_client()


def add_user(users: InMemoryUserStore, username: str, *roles: str) -> str:
    doc = {
        "_id": ObjectId(),
        "username": username,
        "email": f"{username}@example.com",
        "password": "not a hash",
        "roles": list(roles),
        "disabled": False,
        "token_version": 0,
        "created_at": T0,
    }
    assert users.insert_user(doc)
    return str(doc["_id"])


def test_users_are_listed_by_username_a_page_at_a_time(
    client: Any, bearer: Any, fakes: Fakes
) -> None:
    for name in ("carol", "alice", "bob"):
        add_user(fakes.users, name, "viewer")
    headers = bearer("user-manager")
    first = client.get("/api/users?limit=2", headers=headers).get_json()
    assert [u["username"] for u in first["items"]] == ["alice", "bob"]
    assert "password" not in first["items"][0]
    rest = client.get(f"/api/users?cursor={first['next_cursor']}", headers=headers).get_json()
    assert ([u["username"] for u in rest["items"]], rest["next_cursor"]) == (["carol"], None)


def test_a_registered_user_is_listed_and_the_registration_audited(
    client: Any, bearer: Any, fakes: Fakes
) -> None:
    body = {"username": "dave", "email": "Dave@Example.com", "password": "a long passphrase 1"}
    resp = client.post("/api/auth/register", json=body, headers=bearer("admin"))
    assert resp.status_code == 201
    made = resp.get_json()
    assert (made["email"], made["roles"], made["disabled"]) == (
        "dave@example.com",
        ["viewer"],
        False,
    )
    listed = client.get("/api/users", headers=bearer("user-manager")).get_json()["items"]
    assert [(u["id"], u["username"]) for u in listed] == [(made["id"], "dave")]
    again = client.post("/api/auth/register", json=body, headers=bearer("admin"))
    assert again.status_code == 409
    audit = client.get("/api/audit?action=user.register", headers=bearer("auditor")).get_json()
    assert [e["result"] for e in audit["items"]] == ["error", "ok"]
    assert (audit["items"][1]["target"], audit["items"][1]["actor"]) == ("dave", "admin-user")


def test_a_user_change_is_stored_and_ends_its_tokens(
    client: Any, bearer: Any, fakes: Fakes
) -> None:
    user_id = add_user(fakes.users, "erin", "viewer")
    patch = {"roles": ["operator"], "disabled": True}
    resp = client.patch(f"/api/users/{user_id}", json=patch, headers=bearer("admin"))
    assert resp.status_code == 200
    assert (resp.get_json()["roles"], resp.get_json()["disabled"]) == (["operator"], True)
    stored = fakes.users.users[user_id]
    assert (stored["roles"], stored["disabled"], stored["token_version"]) == (["operator"], True, 1)


def test_roles_are_listed_created_changed_and_deleted(
    client: Any, bearer: Any, fakes: Fakes
) -> None:
    names = [
        r["name"] for r in client.get("/api/role", headers=bearer("viewer")).get_json()["items"]
    ]
    assert names == sorted(names) and {"admin", "viewer", "auditor"} <= set(names)
    admin = bearer("admin")
    role = {"name": "reader", "permissions": ["telemetry:read", "devices:read"]}
    created = client.post("/api/role", json=role, headers=admin)
    assert created.status_code == 201
    assert created.get_json() == {
        "name": "reader",
        "permissions": ["devices:read", "telemetry:read"],
        "builtin": False,
    }
    assert client.post("/api/role", json=role, headers=admin).status_code == 409
    changed = client.put("/api/role/reader", json={"permissions": ["audit:read"]}, headers=admin)
    assert changed.status_code == 200
    got = client.get("/api/role/reader", headers=bearer("viewer")).get_json()
    assert got["permissions"] == ["audit:read"]
    assert client.delete("/api/role/reader", headers=admin).status_code == 204
    assert fakes.roles.role("reader") is None


def test_audit_is_listed_newest_first_filtered_and_paged(
    client: Any, bearer: Any, fakes: Fakes
) -> None:
    for minute, actor in enumerate(["ann", "ben", "ann", "ann", "ben"]):
        fakes.audit.record(
            {
                "at": T0 + timedelta(minutes=minute),
                "actor": actor,
                "action": "device.reboot",
                "target": f"meter-{minute}",
                "ip": "10.0.0.1",
                "method": "POST",
                "path": f"/api/devices/meter-{minute}/reboot",
                "result": "ok",
                "status": 202,
                "details": {},
            }
        )
    headers = bearer("auditor")
    first = client.get("/api/audit?actor=ann&limit=2", headers=headers).get_json()
    assert [e["target"] for e in first["items"]] == ["meter-3", "meter-2"]
    assert all(ObjectId.is_valid(e["id"]) for e in first["items"])
    rest = client.get(f"/api/audit?actor=ann&cursor={first['next_cursor']}", headers=headers)
    assert [e["target"] for e in rest.get_json()["items"]] == ["meter-0"]
    window = "from=2025-03-01T12:01:00Z&to=2025-03-01T12:04:00Z"
    ranged = client.get(f"/api/audit?{window}", headers=headers).get_json()
    assert [e["target"] for e in ranged["items"]] == ["meter-3", "meter-2", "meter-1"]


def test_login_refresh_reuse_and_logout_of_a_session(
    store_app: Any, client: Any, fakes: Fakes
) -> None:
    user_id = add_user(fakes.users, "frank", "viewer")
    fakes.users.users[user_id]["password"] = store_app.extensions["msm"].passwords.hash(
        "the right passphrase"
    )
    wrong = client.post("/api/auth/login", json={"username": "frank", "password": "not it at all"})
    assert wrong.status_code == 401
    login = client.post(
        "/api/auth/login", json={"email": "frank@example.com", "password": "the right passphrase"}
    )
    assert login.status_code == 200 and login.headers["Cache-Control"] == "no-store"
    assert fakes.logins.failures.get(f"acct:{user_id}") is None  # the success cleared the count
    first = login.get_json()["refresh_token"]
    rotated = client.post("/api/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200
    second = rotated.get_json()["refresh_token"]
    # The spent token presented again ends the whole session: the rotated one stops working too.
    assert client.post("/api/auth/refresh", json={"refresh_token": first}).status_code == 401
    assert client.post("/api/auth/refresh", json={"refresh_token": second}).status_code == 401
    again = client.post(
        "/api/auth/login", json={"username": "frank", "password": "the right passphrase"}
    ).get_json()
    assert (
        client.post("/api/auth/logout", json={"refresh_token": again["refresh_token"]}).status_code
        == 204
    )
    refused = client.post("/api/auth/refresh", json={"refresh_token": again["refresh_token"]})
    assert refused.status_code == 401
    assert fakes.users.users[user_id]["token_version"] == 1  # logout ended its access tokens
