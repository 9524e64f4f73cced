"""/api/telemetry: readings or time buckets (JSON pages, or CSV streamed), latest per device."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, request

from msm_api import paging
from msm_api.context import deps, now, principal
from msm_api.domain import telemetry as dt
from msm_api.domain.permissions import TELEMETRY_READ
from msm_api.domain.timerange import TimeRange, bucket_range, check_range
from msm_api.models.data import MAX_TELEMETRY_LIMIT, LatestQuery, TelemetryPage, TelemetryQuery
from msm_api.problems import ApiError
from msm_api.readings import Page, TelemetryPages, latest_rows
from msm_api.routing import endpoint, json_response
from msm_api.security.ratelimit import RateLimit

bp = Blueprint("telemetry", __name__, url_prefix="/api")
CSV_MAX_ROWS = 5_000_000


def _wants_csv() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


def _csv(fetch: Callable[[str | None], Page], first: str | None, interval: str | None) -> Response:
    def rows() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(dt.csv_header(interval))
        cursor, sent = first, 0
        while True:
            items, cursor = fetch(cursor)
            for item in items:
                writer.writerow(dt.csv_values(item, interval))
            sent += len(items)
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            if cursor is None or sent >= CSV_MAX_ROWS:
                return

    headers = {"Content-Disposition": 'attachment; filename="telemetry.csv"'}
    return Response(rows(), mimetype="text/csv", headers=headers)


def _csv_allowed(rng: TimeRange) -> TimeRange:
    """An export covers at most csv_max_range_days (`from` defaults to that long before `to`,
    `to` to now), and each user may start only csv_exports_per_minute of them (429)."""
    d = deps()
    longest = timedelta(days=d.settings.csv_max_range_days)
    end = rng.end or now()
    start = rng.start or end - longest
    if end - start > longest:
        raise ApiError(
            400,
            f"from: a CSV export covers at most {d.settings.csv_max_range_days} days",
            field="from",
        )
    limit = RateLimit("csv", d.settings.csv_exports_per_minute)
    wait = d.rate_limits.take(limit, principal().user_id, now())
    if wait:
        raise ApiError(
            429, "too many CSV exports; try again later", headers={"Retry-After": str(wait)}
        )
    return TimeRange(start, end)


@endpoint(
    bp,
    "/telemetry",
    "GET",
    summary="Readings, or avg/min/max/count buckets with interval",
    access=TELEMETRY_READ,
    tag="telemetry",
    query=TelemetryQuery,
    response=TelemetryPage,
    csv=True,
    errors=(429,),
)
def telemetry(query: TelemetryQuery) -> Response:
    d = deps()
    reader = TelemetryPages(d.telemetry, d.cursors)
    base = dt.base_filter(query.device_uuid, query.channel_id, query.phase)
    rng = check_range(query.from_, query.to)
    if _wants_csv():
        rng = _csv_allowed(rng)
    interval = query.interval
    fetch: Callable[[str | None], Page]
    if interval is None:

        def fetch(cursor: str | None, limit: int = query.limit) -> Page:
            return reader.readings(base, rng.start, rng.end, limit, cursor)
    else:
        start, end = bucket_range(rng, now())

        def fetch(cursor: str | None, limit: int = query.limit) -> Page:
            return reader.buckets(
                base, start=start, end=end, interval=interval, limit=limit, cursor=cursor
            )

    if _wants_csv():
        return _csv(lambda c: fetch(c, MAX_TELEMETRY_LIMIT), query.cursor, interval)
    items, next_cursor = fetch(query.cursor)
    body: dict[str, Any] = {"items": items, "next_cursor": next_cursor}
    if interval is not None:
        body["interval"] = interval
    return json_response(body)


@endpoint(
    bp,
    "/telemetry/latest",
    "GET",
    summary="Latest reading per channel/phase, per device",
    access=TELEMETRY_READ,
    tag="telemetry",
    query=LatestQuery,
    response=TelemetryPage,
    errors=(404,),
)
def latest(query: LatestQuery) -> Response:
    d = deps()
    if query.device_uuid is not None:
        doc = d.store.device(query.device_uuid)
        if doc is None:
            raise ApiError(404, "no such device")
        docs, cursor = [doc], None
    else:
        fetch = d.store.devices_page
        docs, cursor = paging.by_key(d.cursors, "latest", query.cursor, query.limit, fetch)
    items = [
        {
            "device_uuid": x["_id"],
            "last_seen": x.get("last_seen"),
            "readings": latest_rows(d.telemetry, x["_id"], x.get("latest") or {}),
        }
        for x in docs
    ]
    return json_response({"items": items, "next_cursor": cursor})
