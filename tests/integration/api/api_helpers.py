"""Small helpers for the api's integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from msm_api import accounts

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
PASSWORD = "a long enough password"


class AuthActions:
    """Users per role and their tokens."""

    def __init__(self, app: Any, client: Any) -> None:
        self.app = app
        self.client = client
        self._tokens: dict[str, dict[str, Any]] = {}

    @property
    def deps(self) -> Any:
        return self.app.extensions["msm"]

    def user(self, role: str, username: str | None = None) -> dict[str, Any]:
        name = username or f"{role}-user"
        existing = self.deps.db["users"].find_one({"username": name})
        if existing is not None:
            return existing
        return accounts.create_user(
            self.deps,
            username=name,
            email=f"{name}@example.com",
            password=PASSWORD,
            roles=[role],
            now=datetime.now(UTC),
        )

    def login(self, identity: str, password: str = PASSWORD, **extra: Any) -> Any:
        key = "email" if "@" in identity else "username"
        return self.client.post(
            "/api/auth/login", json={key: identity, "password": password}, **extra
        )

    def tokens(self, role: str) -> dict[str, Any]:
        if role not in self._tokens:
            if role == "admin":
                resp = self.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            else:
                resp = self.login(self.user(role)["username"])
            assert resp.status_code == 200, resp.get_json()
            self._tokens[role] = resp.get_json()
        return self._tokens[role]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens(role)['access_token']}"}


def add_device(db: Any, device_uuid: str, **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    doc = {
        "_id": device_uuid,
        "device_imei": "356938035643809",
        "device_ip": "10.1.2.3",
        "firmware_version": "1.4.2",
        "mqtt_status": True,
        "sftp_status": False,
        "createdAt": now - timedelta(days=3),
        "updatedAt": now,
        "last_seen": now,
        "connectivity": {
            "connected": True,
            "since": now - timedelta(hours=1),
            "last_disconnect_reason": None,
            "version": 3,
        },
        "latest": {
            "1:A": {
                "timestamp": now,
                "temperature": 31.5,
                "line_voltage": 231.0,
                "current": 4.2,
                "active_power": 900.0,
                "reactive_power": 40.0,
            }
        },
        **fields,
    }
    db["devices"].insert_one(doc)
    return doc
