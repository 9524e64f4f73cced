"""Access tokens' claims shaped like the ones msm-api issues (msm_common.auth verifies them)."""

from __future__ import annotations

import time
import uuid
from typing import Any


def access_claims(**claims: Any) -> dict[str, Any]:
    """A fresh access token's claims for alice; `claims` add to them or replace them."""
    now = int(time.time())
    return {
        "name": "alice",
        "iss": "msm-api",
        "aud": "msm",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "typ": "access",
        **claims,
    }
