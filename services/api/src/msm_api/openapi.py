"""OpenAPI 3.1 from the route specs and the very models that validate the requests."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from msm_api.models.common import Problem
from msm_api.routing import RouteSpec, spec_of

REF = "#/components/schemas/{model}"
_ARG = re.compile(r"<(?:[a-z]+:)?([A-Za-z_][A-Za-z0-9_]*)>")
_ERROR_TEXT = {
    400: "Invalid request (the problem names the field)",
    401: "Missing, invalid or expired token",
    403: "The token lacks the permission",
    404: "Not found (for a cursor: not one this listing issued)",
    409: "Conflict with the current state (e.g. an Idempotency-Key used for another request)",
    413: "Request body too large",
    414: "Request URI too long (the server in front may answer it in text/html)",
    415: "Body is not JSON",
    429: "Too many attempts (see Retry-After)",
    503: "A dependency is unavailable",
}


def _routes(app: Flask) -> list[tuple[str, str, RouteSpec]]:
    found = []
    for rule in app.url_map.iter_rules():
        spec = spec_of(app.view_functions[rule.endpoint])
        if spec is not None:
            found.append((_ARG.sub(r"{\1}", rule.rule), rule.endpoint, spec))
    return sorted(found, key=lambda r: (r[0], r[2].method))


def _schemas(specs: list[RouteSpec]) -> tuple[dict[Any, Any], dict[str, Any]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Problem, "serialization"): None}
    for spec in specs:
        for model in (spec.body, spec.query):
            if model is not None:
                wanted[(model, "validation")] = None
        if spec.response is not None:
            wanted[(spec.response, "serialization")] = None
    refs, defs = models_json_schema(list(wanted), ref_template=REF)
    return refs, defs.get("$defs", {})


def _query_params(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = defs[model.__name__]
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _problem(status: int) -> dict[str, Any]:
    content: dict[str, Any] = {
        "application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}
    }
    if status == 414:  # gunicorn refuses an overlong request line before the app sees it
        content["text/html"] = {"schema": {"type": "string"}}
    return {"description": _ERROR_TEXT.get(status, "Error"), "content": content}


def _operation(
    path: str, name: str, spec: RouteSpec, refs: dict[Any, Any], defs: dict[str, Any]
) -> dict[str, Any]:
    errors = {400, 414, *spec.errors}
    params: list[dict[str, Any]] = [
        {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
        for arg in re.findall(r"{([^}]+)}", path)
    ]
    if spec.query is not None:
        params += _query_params(spec.query, defs)
        if "cursor" in spec.query.model_fields:
            errors.add(404)
    params += [
        {
            "name": header,
            "in": "header",
            "required": False,
            "description": text,
            "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
        }
        for header, text in spec.headers.items()
    ]
    op: dict[str, Any] = {"operationId": name, "summary": spec.summary, "tags": [spec.tag]}
    if params:
        op["parameters"] = params
    if spec.body is not None:
        schema = refs[(spec.body, "validation")]
        op["requestBody"] = {
            "required": not spec.body_optional,
            "content": {"application/json": {"schema": schema}},
        }
        errors |= {413, 415}
    if spec.needs_token:
        op["security"] = [{"bearerAuth": []}]
        errors.add(401)
        if spec.permission is not None:
            errors.add(403)
            op["x-permission"] = spec.permission
    else:
        op["security"] = []
    ok: dict[str, Any] = {"description": "OK" if spec.status < 300 else "Accepted"}
    if spec.status == 204:
        ok["description"] = "Done"
    elif spec.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(spec.response, "serialization")]}}
        if spec.csv:
            ok["content"]["text/csv"] = {"schema": {"type": "string"}}
    responses = {str(spec.status): ok}
    responses.update({str(code): _problem(code) for code in sorted(errors)})
    responses["default"] = _problem(500)
    op["responses"] = responses
    return op


def build(app: Flask, *, title: str = "MSM API", version: str = "1.0.0") -> dict[str, Any]:
    routes = _routes(app)
    refs, defs = _schemas([spec for _, _, spec in routes])
    paths: dict[str, dict[str, Any]] = {}
    for path, name, spec in routes:
        paths.setdefault(path, {})[spec.method.lower()] = _operation(path, name, spec, refs, defs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Meter State Management: devices, telemetry, commands, users.",
        },
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
