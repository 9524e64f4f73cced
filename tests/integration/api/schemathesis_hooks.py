"""Schemathesis hooks for the API run: a fresh admin token from the API's own login.

Loaded by the schemathesis CLI through SCHEMATHESIS_HOOKS. A dynamic token rather than a fixed
header: the run itself calls logout-all and user updates, which revoke the tokens it was given.
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis

BASE = os.environ["MSM_FUZZ_BASE_URL"]


# Cached for a minute: a token the run revoked meanwhile is answered 401, which every check
# accepts; logging in for every case would make the run a login benchmark.
@schemathesis.auth(refresh_interval=60)
class AdminToken:
    def get(self, case: Any, context: Any) -> str:
        login = {"email": os.environ["MSM_FUZZ_EMAIL"], "password": os.environ["MSM_FUZZ_PASSWORD"]}
        answer = requests.post(f"{BASE}/api/auth/login", json=login, timeout=120)
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
