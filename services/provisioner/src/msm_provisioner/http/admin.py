"""`/api/provisioning/...`: the admin API, behind the api service's access tokens.

Tokens are the api's, checked exactly as the api checks them (msm_common.auth: its JWKS, key
by `kid`; the account enabled and the token's version current; permissions from the account's
roles as stored now).
`devices:manage` for everything; reading attempts also with `audit:read`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from flask import Blueprint, Response, g, request
from msm_common.auth.permissions import AUDIT_READ, DEVICES_MANAGE
from msm_common.auth.tokens import TokenError
from msm_common.identifiers import is_thing_name

from msm_provisioner.domain.hook import SERIAL_RE
from msm_provisioner.handlers import lifecycle
from msm_provisioner.handlers.allowlist import import_manifest
from msm_provisioner.http.responses import ApiError, deps, json_response

bp = Blueprint("admin", __name__, url_prefix="/api/provisioning")
_INVALID: Final = {"WWW-Authenticate": 'Bearer realm="msm", error="invalid_token"'}
_OUTCOMES: Final = frozenset({"allowed", "denied"})
_STATUSES: Final = frozenset({"available", "provisioned", "blocked"})
_HIDDEN: Final = frozenset({"_id", "latest"})
View = Callable[..., Response]


def requires(*any_of: str) -> Callable[[View], View]:
    """The caller needs a valid access token holding one of `any_of`."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(
                    401,
                    "a bearer token is required",
                    headers={"WWW-Authenticate": 'Bearer realm="msm"'},
                )
            try:
                who = g.principal = deps().auth.authenticate(token.strip())
            except TokenError:
                raise ApiError(401, "the token is invalid or expired", headers=_INVALID) from None
            if not who.permissions & set(any_of):
                raise ApiError(403, f"this needs the {' or '.join(any_of)} permission")
            return view(**kwargs)

        return wrapper

    return decorate


def _audit(action: str, target: str | None, result: str, **details: Any) -> None:
    d = deps()
    d.store.audit(
        {
            "at": d.clock(),
            "actor": g.principal.username,
            "action": action,
            "target": target,
            "ip": request.remote_addr,
            "result": result,
            "details": details,
        }
    )


def _limit(default: int = 100, most: int = 500) -> int:
    raw = request.args.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ApiError(400, f"limit must be 1..{most}", field="limit")
    return int(raw)


def _device_id(device_uuid: str) -> str:
    if SERIAL_RE.fullmatch(device_uuid) is None:
        raise ApiError(404, "no such device")
    return device_uuid


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in _HIDDEN}
    out["device_uuid"] = doc["_id"]
    return out


@bp.post("/allowlist")
@requires(DEVICES_MANAGE)
def upload_allowlist() -> Response:
    """A factory manifest as text/csv, or as the `file` field of a multipart form."""
    upload = request.files.get("file")
    data = upload.read() if upload is not None else request.get_data(cache=False)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the manifest must be UTF-8 CSV") from None
    d = deps()
    result = import_manifest(d.store, text, now=d.clock())
    _audit("provisioning.allowlist_import", None, "ok", **result.as_dict())
    return json_response(result.as_dict())


@bp.get("/allowlist")
@requires(DEVICES_MANAGE)
def list_allowlist() -> Response:
    status = request.args.get("status")
    if status is not None and status not in _STATUSES:
        raise ApiError(400, f"status must be one of {sorted(_STATUSES)}", field="status")
    limit = _limit()
    docs = deps().store.list_allowlist(status=status, after=request.args.get("after"), limit=limit)
    items = [{"serial": x.pop("_id"), **x} for x in docs]
    more = len(items) == limit
    return json_response({"items": items, "next_after": items[-1]["serial"] if more else None})


@bp.get("/attempts")
@requires(DEVICES_MANAGE, AUDIT_READ)
def list_attempts() -> Response:
    """Newest first; filters: serial, outcome, reason, claim_certificate_id, before (time)."""
    filt: dict[str, Any] = {}
    for name in ("serial", "reason", "claim_certificate_id"):
        value = request.args.get(name)
        if value is not None:
            if not is_thing_name(value):
                raise ApiError(400, f"{name} is invalid", field=name)
            filt[name] = value
    outcome = request.args.get("outcome")
    if outcome is not None:
        if outcome not in _OUTCOMES:
            raise ApiError(400, "outcome must be allowed or denied", field="outcome")
        filt["outcome"] = outcome
    before = request.args.get("before")
    if before is not None:
        filt["at"] = {"$lt": _time(before, "before")}
    limit = _limit()
    docs = deps().store.attempts(filt, limit)
    items = [{"attempt_id": x.pop("_id"), **x} for x in docs]
    more = len(items) == limit
    return json_response({"items": items, "next_before": items[-1]["at"] if more else None})


@bp.post("/devices/<device_uuid>/decommission")
@requires(DEVICES_MANAGE)
def decommission(device_uuid: str) -> Response:
    """Body (optional): `{"certificate_status": "REVOKED" | "INACTIVE"}`."""
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict) or set(body) - {"certificate_status"}:
        raise ApiError(400, "the body may only hold certificate_status")
    d = deps()
    status = body.get("certificate_status", d.settings.provisioner_decommission_status)
    if status not in ("REVOKED", "INACTIVE"):
        raise ApiError(
            400, "certificate_status must be REVOKED or INACTIVE", field="certificate_status"
        )
    doc = lifecycle.decommission(
        d, _device_id(device_uuid), status=status, actor=g.principal.username
    )
    _audit("provisioning.decommission", device_uuid, "ok", certificate_status=status)
    return json_response(_public(doc))


@bp.post("/devices/<device_uuid>/rotate")
@requires(DEVICES_MANAGE)
def rotate(device_uuid: str) -> Response:
    rotation = lifecycle.request_rotation(
        deps(), _device_id(device_uuid), actor=g.principal.username
    )
    _audit("provisioning.rotate", device_uuid, "ok", request_id=rotation["request_id"])
    return json_response({"device_uuid": device_uuid, "rotation": rotation}, status=202)


@bp.get("/certificates/expiring")
@requires(DEVICES_MANAGE)
def expiring() -> Response:
    d = deps()
    raw = request.args.get("days", str(d.settings.provisioner_expiry_days))
    if not raw.isdigit() or not 0 <= int(raw) <= 3650:
        raise ApiError(400, "days must be 0..3650", field="days")
    docs = lifecycle.expiring(d, int(raw), _limit())
    items = [
        {
            "device_uuid": x["_id"],
            "serial": x.get("serial"),
            "certificate_id": x.get("certificate_id"),
            "certificate_expires_at": x.get("certificate_expires_at"),
        }
        for x in docs
    ]
    return json_response({"items": items, "days": int(raw)})


def _time(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} is not an ISO-8601 time", field=name) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
