"""Bad input is a 400/413/415 problem naming the field, never a 500."""

from __future__ import annotations

import pytest


def problem(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_unknown_route_and_method_are_problems(unit_app):
    client = unit_app.test_client()
    problem(client.get("/api/nothing-here"), 404)
    resp = client.delete("/api/auth/login")
    problem(resp, 405)
    assert "POST" in resp.headers["Allow"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"broker_ip": "10.0.0.1", "$where": "1"}, "$where"),
        (
            {
                "broker_ip": "10.0.0.1",
                "extra": 1,
                "broker_port": 1,
                "broker_user": "u",
                "broker_password": "p",
                "data_interval": 5,
            },
            "extra",
        ),
        (
            {
                "broker_ip": "10.0.0.1",
                "broker_port": "1883",
                "broker_user": "u",
                "broker_password": "p",
                "data_interval": 5,
            },
            "broker_port",
        ),
        (
            {
                "broker_ip": "not a host!",
                "broker_port": 1883,
                "broker_user": "u",
                "broker_password": "p",
                "data_interval": 5,
            },
            "broker_ip",
        ),
        ({"broker_port": 1883}, "broker_ip"),
        ({"nested": {"$gt": 1}}, "nested.$gt"),
    ],
)
def test_bad_command_bodies_name_the_field(unit_app, bearer, body, field):
    client = unit_app.test_client()
    resp = client.post("/api/devices/d1/mqtt", json=body, headers=bearer("operator"))
    assert problem(resp, 400)["field"] == field


def test_body_must_be_a_json_object(unit_app, bearer):
    client, headers = unit_app.test_client(), bearer("operator")
    problem(
        client.post(
            "/api/devices/d1/ntp", data="[1]", headers=headers, content_type="application/json"
        ),
        400,
    )
    problem(
        client.post(
            "/api/devices/d1/ntp", data="{bad", headers=headers, content_type="application/json"
        ),
        400,
    )
    problem(
        client.post(
            "/api/devices/d1/ntp",
            data="x=1",
            headers=headers,
            content_type="application/x-www-form-urlencoded",
        ),
        415,
    )
    problem(client.post("/api/devices/d1/ntp", headers=headers), 400)


def test_oversized_body_is_413(unit_app, bearer):
    big = {"server_1": "a" * 10_000}
    resp = unit_app.test_client().post("/api/devices/d1/ntp", json=big, headers=bearer("admin"))
    problem(resp, 413)


def test_login_needs_exactly_one_identity(unit_app):
    client = unit_app.test_client()
    assert problem(client.post("/api/auth/login", json={"password": "x"}), 400)
    both = {"username": "a", "email": "a@b.c", "password": "x"}
    problem(client.post("/api/auth/login", json=both), 400)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("limit=abc", "limit"),
        ("phase=D", "phase"),
        ("channel_id=x", "channel_id"),
        ("from=yesterday", "from"),
        ("interval=7m", "interval"),
        ("cursor=%%%", "cursor"),
        ("cursor=0", "cursor"),
        ("unknown=1", "unknown"),
        ("limit=1&limit=2", "limit"),
    ],
)
def test_bad_telemetry_queries_are_400(unit_app, bearer, query, field):
    resp = unit_app.test_client().get(f"/api/telemetry?{query}", headers=bearer("viewer"))
    assert problem(resp, 400)["field"] == field


def test_a_well_formed_cursor_this_listing_did_not_issue_is_404(unit_app, bearer):
    # Like an unknown id: the document allows the shape, the page does not exist.
    resp = unit_app.test_client().get(
        "/api/telemetry?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", headers=bearer("viewer")
    )
    assert problem(resp, 404)["field"] == "cursor"


def test_bad_idempotency_key_is_400(unit_app, bearer):
    headers = {**bearer("operator"), "Idempotency-Key": "has space"}
    resp = unit_app.test_client().post("/api/devices/d1/reboot", json={}, headers=headers)
    assert problem(resp, 400)["field"] == "Idempotency-Key"


def test_database_down_is_503_not_500(unit_app, bearer):
    resp = unit_app.test_client().get("/api/devices", headers=bearer("viewer"))
    problem(resp, 503)


def test_readyz_reports_the_unreachable_database(unit_app):
    resp = unit_app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["checks"] == {"mongo": False, "rabbitmq": True}
    assert unit_app.test_client().get("/healthz").status_code == 200
