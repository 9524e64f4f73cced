"""/api/commands: a command's state and history; cancelling a queued one."""

from __future__ import annotations

from flask import Blueprint, Response

from msm_api import audit, commanding
from msm_api.context import deps, now, principal
from msm_api.domain import commands as dc
from msm_api.domain.permissions import DEVICES_COMMAND, DEVICES_READ
from msm_api.models.devices import CommandOut
from msm_api.problems import ApiError
from msm_api.routing import endpoint, json_response

bp = Blueprint("commands", __name__, url_prefix="/api")


@endpoint(
    bp,
    "/commands/<command_id>",
    "GET",
    summary="A command's state and history",
    access=DEVICES_READ,
    tag="commands",
    response=CommandOut,
    errors=(404,),
)
def get_command(command_id: str) -> Response:
    doc = deps().store.command(command_id)
    if doc is None:
        raise ApiError(404, "no such command")
    return json_response(dc.public_command(doc))


@endpoint(
    bp,
    "/commands/<command_id>/cancel",
    "POST",
    summary="Cancel a queued command",
    access=DEVICES_COMMAND,
    tag="commands",
    response=CommandOut,
    action="command.cancel",
    errors=(404, 409),
)
def cancel_command(command_id: str) -> Response:
    doc = commanding.cancel(deps(), command_id, principal().username, now())
    audit.note(device_uuid=doc.get("device_uuid"))
    return json_response(dc.public_command(doc))
