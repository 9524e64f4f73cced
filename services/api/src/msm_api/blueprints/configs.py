"""/api/mqtt, /api/ntp, /api/sftp: each device's current configuration and its command state."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from msm_api import paging
from msm_api.context import deps
from msm_api.domain.permissions import CONFIG_READ
from msm_api.domain.redact import redact
from msm_api.models.data import ConfigPage, ConfigQuery
from msm_api.routing import endpoint, json_response

bp = Blueprint("configs", __name__, url_prefix="/api")
_INTERNAL = frozenset({"_id", "device_uuid", "updated_at", "command_id"})


def _latest_commands(kind: str, devices: list[str]) -> dict[str, dict[str, Any]]:
    """The newest command of `kind` for each device."""
    return deps().store.latest_commands(kind, devices)


def _item(
    kind: str, device_uuid: str, doc: dict[str, Any] | None, command: dict[str, Any] | None
) -> dict[str, Any]:
    values = {k: v for k, v in (doc or {}).items() if k not in _INTERNAL}
    return {
        "device_uuid": device_uuid,
        **(redact(kind, values) if doc is not None else {}),
        "configured": doc is not None,
        "updated_at": (doc or {}).get("updated_at"),
        "command_id": (doc or {}).get("command_id"),
        "latest_command": command,
    }


def _configs(kind: str, query: ConfigQuery) -> Response:
    d = deps()
    if query.device_uuid is not None:
        doc = d.store.config(kind, query.device_uuid)
        command = _latest_commands(kind, [query.device_uuid]).get(query.device_uuid)
        items = (
            []
            if doc is None and command is None
            else [_item(kind, query.device_uuid, doc, command)]
        )
        return json_response({"items": items, "next_cursor": None})
    docs, cursor = paging.by_key(
        d.cursors,
        kind,
        query.cursor,
        query.limit,
        lambda after, n: d.store.configs_page(kind, after, n),
        key="device_uuid",
    )
    commands = _latest_commands(kind, [x["device_uuid"] for x in docs])
    items = [_item(kind, x["device_uuid"], x, commands.get(x["device_uuid"])) for x in docs]
    return json_response({"items": items, "next_cursor": cursor})


def _register(kind: str) -> None:
    def view(query: ConfigQuery) -> Response:
        return _configs(kind, query)

    view.__name__ = f"{kind}_configs"
    endpoint(
        bp,
        f"/{kind}",
        "GET",
        summary=f"Current {kind} configuration per device",
        access=CONFIG_READ,
        tag="configs",
        query=ConfigQuery,
        response=ConfigPage,
    )(view)


for _kind in ("mqtt", "ntp", "sftp"):
    _register(_kind)
