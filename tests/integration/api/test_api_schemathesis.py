"""Schemathesis against the service's own OpenAPI document: no 5xx, no schema violations.

Driven from a plain test (hypothesis per operation) rather than schemathesis' pytest plugin,
so that every example runs against this test's own database.
"""

from __future__ import annotations

import pytest
import schemathesis
from api_helpers import AuthActions, add_device
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
NO_TOKEN = ("/api/auth/logout", "/api/auth/refresh", "/api/auth/login")


def exercise(operation, headers, seen, mode=GenerationMode.POSITIVE, examples=25):
    checks = CHECKS if mode is GenerationMode.POSITIVE else [not_a_server_error]

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call_and_validate(headers=headers, checks=checks)
        seen.append(response.status_code)

    run()


def test_api_conforms_to_its_openapi(make_app, mongo_db):
    app = make_app()
    auth = AuthActions(app, app.test_client())
    add_device(mongo_db, "dev-fuzz")
    admin = auth.headers("admin")
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures: dict[str, str] = {}
    seen: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 29
    for operation in operations:
        try:
            exercise(operation, {} if operation.path in NO_TOKEN else admin, seen)
        except Exception as exc:  # collect all operations' findings, then fail once
            failures[f"{operation.method.upper()} {operation.path}"] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    # The run reached the handlers, not only the validation layer.
    assert len(seen) > 3 * len(operations) and sum(s < 300 for s in seen) > len(operations)


def test_api_answers_malformed_requests_without_5xx(make_app, mongo_db):
    """Negative examples (wrong types, missing fields, junk values): 4xx, never 5xx."""
    app = make_app()
    auth = AuthActions(app, app.test_client())
    add_device(mongo_db, "dev-fuzz")
    admin = auth.headers("admin")
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures: dict[str, str] = {}
    seen: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        headers = {} if operation.path in NO_TOKEN else admin
        try:
            exercise(operation, headers, seen, GenerationMode.NEGATIVE, examples=10)
        except Unsatisfiable:  # no input to get wrong (e.g. GET /api/auth/jwks.json)
            continue
        except Exception as exc:
            failures[f"{operation.method.upper()} {operation.path}"] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    assert seen and all(status < 500 for status in seen)
