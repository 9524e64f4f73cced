"""The built-in roles in the `roles` collection (the role cache itself is msm_common's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database

from msm_api.domain.permissions import BUILTIN_ROLES


def seed_builtin_roles(db: Database[dict[str, Any]], now: datetime) -> None:
    """Create the built-in roles if missing and keep their permissions current."""
    for name, perms in BUILTIN_ROLES.items():
        db["roles"].update_one(
            {"name": name},
            {
                "$set": {"permissions": list(perms), "builtin": True, "updated_at": now},
                "$setOnInsert": {"created_at": now},
            },
            upsert=True,
        )
