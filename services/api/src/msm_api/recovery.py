"""`msm-api create-admin`: the way back in after a lock-out, run where the service runs.

Creates an admin, or restores an existing account (found by username or email) as an enabled
admin with a new password. Every session the account had ends, its login throttle is cleared,
and the recovery is written to the audit log.
"""

from __future__ import annotations

import getpass
import socket
import sys
from datetime import datetime
from typing import Any, Final, TextIO

from msm_common.adapters import mongo
from pydantic import SecretStr
from pymongo.database import Database

from msm_api.accounts import user_document
from msm_api.adapters.accounts import MongoAuditLog, MongoUserStore
from msm_api.adapters.roles import seed_builtin_roles
from msm_api.domain.permissions import ADMIN
from msm_api.security import throttle
from msm_api.security.passwords import PasswordHasher
from msm_api.settings import ApiSettings

MIN_PASSWORD: Final = 12


class RecoveryError(RuntimeError):
    """The recovery cannot be done as asked (printed, exit status 1)."""


def read_password(
    from_stdin: bool, stdin: TextIO = sys.stdin, *, given: SecretStr | None = None
) -> str:
    """The new password: from stdin (`--password-stdin`), `given` (the settings'
    MSM_API_ADMIN_PASSWORD), or a prompt."""
    if from_stdin:
        password = stdin.readline().rstrip("\r\n")
    elif given is not None and given.get_secret_value():
        password = given.get_secret_value()
    elif stdin.isatty():
        password = getpass.getpass("new admin password: ")
        if getpass.getpass("again: ") != password:
            raise RecoveryError("the passwords differ")
    else:
        raise RecoveryError(
            "give the password on stdin (--password-stdin) or MSM_API_ADMIN_PASSWORD"
        )
    if len(password) < MIN_PASSWORD:
        raise RecoveryError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def restore_admin(
    db: Database[dict[str, Any]],
    hasher: PasswordHasher,
    *,
    username: str,
    email: str | None,
    password: str,
    now: datetime,
) -> tuple[str, dict[str, Any]]:
    """Create or restore the admin account; returns ("created" | "restored", the account)."""
    seed_builtin_roles(db, now)
    users = MongoUserStore(db)
    hashed = hasher.hash(password)
    existing = users.user_by("username", username)
    if existing is None and email:
        existing = users.user_by("email", email.strip().lower())
    if existing is None:
        if not email:
            raise RecoveryError(f"no account {username!r}: give --email to create it")
        created = user_document(username, email, hashed, [ADMIN], now)
        if not users.insert_user(created):
            raise RecoveryError("that username or email was taken meanwhile")
        return "created", created
    roles = sorted({*(existing.get("roles") or []), ADMIN})
    user_id = str(existing["_id"])
    changes = {"roles": roles, "disabled": False, "password": hashed, "updated_at": now}
    doc = users.update_user(user_id, changes)
    if doc is None:
        raise RecoveryError("the account disappeared meanwhile")
    users.revoke_user_refresh(user_id)
    db[throttle.COLLECTION].delete_one({"_id": throttle.account_key(user_id, username)})
    return "restored", doc


def audit(db: Database[dict[str, Any]], outcome: str, doc: dict[str, Any], now: datetime) -> None:
    MongoAuditLog(db).record(
        {
            "at": now,
            "actor": f"cli:{getpass.getuser()}@{socket.gethostname()}",
            "action": "user.recover_admin",
            "target": str(doc["_id"]),
            "ip": None,
            "method": "CLI",
            "path": "msm-api create-admin",
            "result": "ok",
            "status": 0,
            "details": {"username": doc["username"], "outcome": outcome},
        }
    )


def run(
    settings: ApiSettings, *, username: str | None, email: str | None, password: str, now: datetime
) -> str:
    client = mongo.connect(settings.mongo_uri, app_name=f"{settings.service_name}-create-admin")
    try:
        db = client[settings.database_name]
        name = username or settings.admin_username
        outcome, doc = restore_admin(
            db,
            PasswordHasher(settings.bcrypt_rounds),
            username=name,
            email=email or settings.admin_email,
            password=password,
            now=now,
        )
        audit(db, outcome, doc, now)
    finally:
        client.close()
    return f"{outcome} admin {doc['username']} ({doc['email']}); its earlier sessions ended"
