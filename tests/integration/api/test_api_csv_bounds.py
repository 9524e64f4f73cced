"""CSV exports are bounded: in time range, and in how many one user may start per minute."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from api_helpers import AuthActions

pytestmark = pytest.mark.integration


def test_a_csv_export_covers_at_most_the_configured_range(auth, client):
    headers = {**auth.headers("viewer"), "Accept": "text/csv"}
    too_long = client.get(
        "/api/telemetry?from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z", headers=headers
    )
    assert too_long.status_code == 400 and too_long.get_json()["field"] == "from"
    assert "31 days" in too_long.get_json()["detail"]
    ok = client.get(
        "/api/telemetry?from=2025-01-01T00:00:00Z&to=2025-01-31T00:00:00Z", headers=headers
    )
    assert ok.status_code == 200 and ok.mimetype == "text/csv"
    # JSON pages are cursor-paginated: no range limit there.
    json_page = client.get(
        "/api/telemetry?from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z",
        headers=auth.headers("viewer"),
    )
    assert json_page.status_code == 200


def test_csv_exports_are_rate_limited_per_user(make_app):
    frozen = datetime.now(UTC)  # one fixed moment: all requests fall in one window
    app = make_app({"csv_exports_per_minute": 2}, clock=lambda: frozen)
    client = app.test_client()

    auth = AuthActions(app, client)
    url = "/api/telemetry?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z"
    viewer = {**auth.headers("viewer"), "Accept": "text/csv"}
    answers = [client.get(url, headers=viewer) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60
    assert answers[2].mimetype == "application/problem+json"
    # Another user has a budget of their own.
    operator = {**auth.headers("operator"), "Accept": "text/csv"}
    assert client.get(url, headers=operator).status_code == 200
