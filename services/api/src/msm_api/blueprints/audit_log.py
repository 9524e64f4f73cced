"""/api/audit: who did what, when, from where, with what result."""

from __future__ import annotations

from flask import Blueprint, Response

from msm_api import paging
from msm_api.context import deps
from msm_api.domain.permissions import AUDIT_READ
from msm_api.domain.timerange import check_range
from msm_api.models.data import AuditPage, AuditQuery
from msm_api.ports import AuditFilter
from msm_api.routing import endpoint, json_response

bp = Blueprint("audit", __name__, url_prefix="/api")


@endpoint(
    bp,
    "/audit",
    "GET",
    summary="The audit log, newest first",
    access=AUDIT_READ,
    tag="audit",
    query=AuditQuery,
    response=AuditPage,
)
def audit_log(query: AuditQuery) -> Response:
    d = deps()
    rng = check_range(query.from_, query.to)
    wanted = AuditFilter(query.actor, query.action, rng.start, rng.end)
    docs, cursor = paging.newest_first(
        d.cursors,
        "audit",
        query.cursor,
        query.limit,
        lambda before, n: d.audit_log.page(wanted, before, n),
        at="at",
    )
    items = [{**{k: v for k, v in x.items() if k != "_id"}, "id": str(x["_id"])} for x in docs]
    return json_response({"items": items, "next_cursor": cursor})
