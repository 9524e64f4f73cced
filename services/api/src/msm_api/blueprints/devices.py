"""/api/devices: list, detail, status, commands of a device, and command requests."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, request
from msm_common.contracts.commands import PARAMS_MODELS, CommandType

from msm_api import audit, commanding, paging
from msm_api.context import deps, now, principal
from msm_api.domain import commands as dc
from msm_api.domain.permissions import DEVICES_COMMAND, DEVICES_READ
from msm_api.models.devices import (
    CommandOut,
    CommandPage,
    CommandRequestQuery,
    CommandsQuery,
    DeviceOut,
    DevicePage,
    DevicesQuery,
    DeviceStatus,
)
from msm_api.problems import ApiError
from msm_api.readings import latest_rows
from msm_api.routing import endpoint, json_response

bp = Blueprint("devices", __name__, url_prefix="/api")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_HIDDEN = frozenset({"_id", "latest"})


def public_device(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in _HIDDEN}
    out["device_uuid"] = doc["_id"]
    out["online"] = bool((doc.get("connectivity") or {}).get("connected"))
    return out


def _device(device_uuid: str) -> dict[str, Any]:
    doc = deps().store.device(device_uuid)
    if doc is None:
        raise ApiError(404, "no such device")
    return doc


@endpoint(
    bp,
    "/devices",
    "GET",
    summary="List devices",
    access=DEVICES_READ,
    tag="devices",
    query=DevicesQuery,
    response=DevicePage,
)
def list_devices(query: DevicesQuery) -> Response:
    d = deps()
    docs, cursor = paging.by_key(
        d.cursors,
        "devices",
        query.cursor,
        query.limit,
        lambda after, n: d.store.devices_page(after, n, online=query.online, text=query.q),
    )
    return json_response({"items": [public_device(x) for x in docs], "next_cursor": cursor})


@endpoint(
    bp,
    "/devices/<device_uuid>",
    "GET",
    summary="One device",
    access=DEVICES_READ,
    tag="devices",
    response=DeviceOut,
    errors=(404,),
)
def get_device(device_uuid: str) -> Response:
    return json_response(public_device(_device(device_uuid)))


@endpoint(
    bp,
    "/devices/<device_uuid>/status",
    "GET",
    summary="A device's current state",
    access=DEVICES_READ,
    tag="devices",
    response=DeviceStatus,
    errors=(404,),
)
def device_status(device_uuid: str) -> Response:
    doc = _device(device_uuid)
    conn = doc.get("connectivity") or {}
    store = deps().store
    pending = store.in_flight_commands(device_uuid, 100)
    return json_response(
        {
            "device_uuid": device_uuid,
            "online": bool(conn.get("connected")),
            "since": conn.get("since"),
            "last_seen": doc.get("last_seen"),
            "last_disconnect_reason": conn.get("last_disconnect_reason"),
            "latest": latest_rows(deps().telemetry, device_uuid, doc.get("latest") or {}),
            "mqtt_status": doc.get("mqtt_status"),
            "sftp_status": doc.get("sftp_status"),
            "firmware_version": doc.get("firmware_version"),
            "pending_commands": [
                {
                    "command_id": c["_id"],
                    "type": c.get("type"),
                    "status": c.get("status"),
                    "created_at": c.get("created_at"),
                }
                for c in pending
            ],
        }
    )


@endpoint(
    bp,
    "/devices/<device_uuid>/commands",
    "GET",
    summary="A device's commands, newest first",
    access=DEVICES_READ,
    tag="commands",
    query=CommandsQuery,
    response=CommandPage,
    errors=(404,),
)
def device_commands(device_uuid: str, query: CommandsQuery) -> Response:
    d = deps()
    _device(device_uuid)
    docs, cursor = paging.newest_first(
        d.cursors,
        "commands",
        query.cursor,
        query.limit,
        lambda before, n: d.store.device_commands(device_uuid, before, n, status=query.status),
        at="created_at",
    )
    return json_response({"items": [dc.public_command(x) for x in docs], "next_cursor": cursor})


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and _IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise ApiError(
            400, "Idempotency-Key: 1-255 visible ASCII characters", field="Idempotency-Key"
        )
    return key


def _command_view(type_: CommandType) -> Any:
    def view(device_uuid: str, body: Any, query: CommandRequestQuery) -> Response:
        doc = commanding.request_command(
            deps(),
            device_uuid=device_uuid,
            type_=type_,
            raw_params=body.model_dump(exclude_unset=True),
            actor=principal().username,
            idempotency_key=_idempotency_key(),
            now=now(),
            ttl_s=query.expires_in_s,
        )
        audit.note(target=device_uuid, command_id=doc["_id"], type=type_.value)
        location = f"/api/commands/{doc['_id']}"
        return json_response(dc.public_command(doc), status=202, headers={"Location": location})

    view.__name__ = f"command_{type_.value}"
    return view


for _type in CommandType:
    endpoint(
        bp,
        f"/devices/<device_uuid>/{_type.value}",
        "POST",
        summary=f"Send a {_type.value} command (202 + command id)",
        access=DEVICES_COMMAND,
        tag="commands",
        body=PARAMS_MODELS[_type],
        body_optional=_type is CommandType.REBOOT,
        query=CommandRequestQuery,
        response=CommandOut,
        status=202,
        action="command.create",
        errors=(404, 409, 503),
        headers={"Idempotency-Key": "replays return the same command"},
    )(_command_view(_type))
