"""Login throttling: counted before the password is checked, per account and per address,
backing off without ever locking the account."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from api_helpers import PASSWORD, AuthActions

pytestmark = pytest.mark.integration
FAST_BACKOFF = {
    "login_max_account_failures": 3,
    "login_max_address_failures": 1000,
    "login_backoff_base_s": 0.5,
    "login_backoff_max_s": 2.0,
}


def test_fifty_parallel_wrong_passwords_do_not_lock_out_the_right_one(make_app):
    app = make_app(FAST_BACKOFF)
    deps = app.extensions["msm"]
    auth = AuthActions(app, app.test_client())
    auth.user("operator")
    statuses: list[int] = []
    retry_after: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def wrong(i: int) -> None:
        client = app.test_client()
        start.wait()
        # Alternate username and email: both name the same account, one counter.
        identity = (
            {"username": "operator-user"} if i % 2 else {"email": "operator-user@example.com"}
        )
        resp = client.post("/api/auth/login", json={**identity, "password": f"guess-{i}"})
        with lock:
            statuses.append(resp.status_code)
            if resp.status_code == 429:
                retry_after.append(int(resp.headers["Retry-After"]))

    threads = [threading.Thread(target=wrong, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    seen = Counter(statuses)
    assert set(seen) <= {401, 429} and sum(seen.values()) == 50
    # Every attempt was counted before its password was checked: only a few were checked.
    assert seen[401] < 25, seen
    assert seen[429] >= 25 and all(1 <= r <= 2 for r in retry_after), (seen, retry_after)
    stored = deps.db["login_throttle"].find_one({"_id": {"$regex": "^acct:[0-9a-f]{24}$"}})
    # No password was checked without its attempt counted first. (A refused attempt may be
    # counted too: the local database stand-in once counted one that a lease then refused.)
    assert stored is not None and stored["failures"] >= seen[401]
    # The account is not locked: after at most the (capped) backoff the right password works.
    time.sleep(FAST_BACKOFF["login_backoff_max_s"] + 0.2)
    ok = auth.login("operator-user", PASSWORD)
    assert ok.status_code == 200, ok.get_json()
    # And the success starts the account afresh.
    assert deps.db["login_throttle"].find_one({"_id": stored["_id"]}) is None


def test_unknown_and_known_accounts_are_throttled_alike(make_app):
    app = make_app({**FAST_BACKOFF, "login_backoff_base_s": 30.0, "login_backoff_max_s": 60.0})
    client = app.test_client()
    AuthActions(app, client).user("viewer")
    for name in ("viewer-user", "nobody-at-all"):
        answers = [
            client.post("/api/auth/login", json={"username": name, "password": "x"}).status_code
            for _ in range(4)
        ]
        assert answers == [401, 401, 401, 429], (name, answers)


@pytest.mark.parametrize("trusted", [0, 1])
def test_the_address_is_the_client_the_trusted_proxy_names(make_app, trusted):
    settings = {
        **FAST_BACKOFF,
        "login_max_account_failures": 100,
        "login_max_address_failures": 2,
        "login_backoff_base_s": 30.0,
        "trusted_proxies": trusted,
    }
    client = make_app(settings).test_client()

    def attempt(forwarded_for: str) -> int:
        body = {"username": "nobody", "password": "wrong"}
        headers = {"X-Forwarded-For": forwarded_for}
        return client.post("/api/auth/login", json=body, headers=headers).status_code

    assert [attempt("198.51.100.7"), attempt("198.51.100.7")] == [401, 401]
    # Behind a trusted proxy another client is another address; without one, a forged
    # X-Forwarded-For changes nothing (the connection's address is what counts).
    assert attempt("198.51.100.8") == (401 if trusted else 429)
