"""Hook authentication: bearer token or a fresh HMAC signature."""

from __future__ import annotations

import pytest
from msm_provisioner.domain.hook_auth import HookCredentials, authenticated, check, sign

BODY = b'{"claimCertificateId": "x"}'
NOW = 1_800_000_000
TOKEN = "t" * 32
SECRET = "s" * 32


def signed(secret: str = SECRET, stamp: int = NOW, body: bytes = BODY) -> dict[str, str]:
    return {"X-MSM-Timestamp": str(stamp), "X-MSM-Signature": sign(secret, stamp, body)}


@pytest.mark.parametrize(
    ("creds", "headers", "ok"),
    [
        (HookCredentials(token=TOKEN), {"Authorization": f"Bearer {TOKEN}"}, True),
        (HookCredentials(token=TOKEN), {"authorization": f"bearer {TOKEN}"}, True),
        (HookCredentials(token=TOKEN), {"Authorization": "Bearer wrong"}, False),
        (HookCredentials(token=TOKEN), {"Authorization": f"Basic {TOKEN}"}, False),
        (HookCredentials(token=TOKEN), {}, False),
        (HookCredentials(secret=SECRET), signed(), True),
        (HookCredentials(secret=SECRET), {k.lower(): v for k, v in signed().items()}, True),
        (HookCredentials(secret=SECRET), signed(secret="other" * 8), False),
        (HookCredentials(secret=SECRET), signed(body=b"{}"), False),
        (HookCredentials(secret=SECRET), signed(stamp=NOW - 301), False),
        (HookCredentials(secret=SECRET), {**signed(), "X-MSM-Timestamp": "abc"}, False),
        (HookCredentials(secret=SECRET), {"Authorization": f"Bearer {SECRET}"}, False),
        (HookCredentials(token=TOKEN, secret=SECRET), signed(), True),
        (HookCredentials(token=TOKEN, secret=SECRET), {"Authorization": f"Bearer {TOKEN}"}, True),
    ],
)
def test_hook_credentials(creds: HookCredentials, headers: dict[str, str], ok: bool) -> None:
    assert authenticated(creds, headers, BODY, NOW) is ok


def test_a_signed_call_names_its_nonce_and_how_long_to_keep_it() -> None:
    verdict = check(HookCredentials(secret=SECRET), signed(), BODY, NOW)
    assert verdict.ok and verdict.nonce == signed()["X-MSM-Signature"]
    assert verdict.remember_until_s == NOW + 300
    by_token = check(HookCredentials(token=TOKEN), {"Authorization": f"Bearer {TOKEN}"}, BODY, NOW)
    assert by_token.ok and by_token.nonce is None
