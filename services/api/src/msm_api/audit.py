"""Every state-changing request is recorded: who, what, on what, from where, with what result."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, request
from pymongo.errors import PyMongoError

from msm_api.context import deps
from msm_api.routing import spec_of

log = logging.getLogger(__name__)
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def note(*, actor: str | None = None, target: str | None = None, **details: Any) -> None:
    """Let a handler add to its request's audit record (e.g. the account a login was for)."""
    if actor is not None:
        g.audit_actor = actor
    if target is not None:
        g.audit_target = target
    g.setdefault("audit_details", {}).update(details)


def _result(status: int) -> str:
    if status < 400:
        return "ok"
    return "denied" if status in (401, 403, 429) else "error"


def _action() -> str:
    view = request.url_rule.endpoint if request.url_rule is not None else None
    spec = spec_of(g.get("view_func")) if view is not None else None
    if spec is not None and spec.action:
        return spec.action
    return f"http.{request.method.lower()}"


def init_app(app: Flask) -> None:
    @app.before_request
    def _remember_view() -> None:
        if request.url_rule is not None:
            g.view_func = app.view_functions.get(request.url_rule.endpoint)

    @app.after_request
    def _record(resp: Response) -> Response:
        if request.method not in STATE_CHANGING:
            return resp
        who = g.get("principal")
        view_args = request.view_args or {}
        entry = {
            "at": deps().clock(),
            "actor": g.get("audit_actor") or (who.username if who is not None else None),
            "action": _action(),
            "target": g.get("audit_target") or next(iter(view_args.values()), None),
            "ip": request.remote_addr,
            "method": request.method,
            "path": request.path,
            "result": _result(resp.status_code),
            "status": resp.status_code,
            "details": g.get("audit_details", {}),
        }
        try:
            deps().audit_log.record(entry)
        except PyMongoError:
            log.exception("could not record audit entry for %s %s", request.method, request.path)
        return resp
