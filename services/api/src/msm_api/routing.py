"""Declare an endpoint once: path, method, permission, models. The same spec authenticates,
authorizes and parses each request, and generates the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from flask import Blueprint, Response, g, request
from pydantic import BaseModel

from msm_api import parsing
from msm_api.context import Principal, deps
from msm_api.problems import ApiError
from msm_api.security.tokens import TokenError

PUBLIC: Final = "public"  # no token
AUTHENTICATED: Final = "authenticated"  # any valid token, no permission
SPEC_ATTR: Final = "__msm_route__"
_BEARER: Final = {"WWW-Authenticate": 'Bearer realm="msm"'}
_INVALID: Final = {"WWW-Authenticate": 'Bearer realm="msm", error="invalid_token"'}

View = Callable[..., Response]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    rule: str
    summary: str
    access: str  # PUBLIC, AUTHENTICATED or a permission name
    tag: str
    body: type[BaseModel] | None = None
    body_optional: bool = False
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    action: str | None = None  # audit action name for state-changing endpoints
    csv: bool = False
    errors: tuple[int, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)  # documented request headers

    @property
    def needs_token(self) -> bool:
        return self.access != PUBLIC

    @property
    def permission(self) -> str | None:
        return None if self.access in (PUBLIC, AUTHENTICATED) else self.access


def authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "a bearer token is required", headers=_BEARER)
    try:
        return deps().auth.authenticate(token.strip())
    except TokenError:
        raise ApiError(401, "the token is invalid or expired", headers=_INVALID) from None


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    resp = Response(orjson.dumps(payload), status=status, mimetype="application/json")
    if headers:
        resp.headers.update(headers)
    return resp


def endpoint(bp: Blueprint, rule: str, method: str, **spec_args: Any) -> Callable[[View], View]:
    """Register `view` on `bp`; it receives path args plus `query=` / `body=` when declared."""

    def decorate(view: View) -> View:
        spec = RouteSpec(method=method, rule=rule, **spec_args)

        def wrapper(**kwargs: Any) -> Response:
            if spec.needs_token:
                who = g.principal = authenticate()
                if spec.permission is not None and spec.permission not in who.permissions:
                    raise ApiError(403, f"this needs the {spec.permission} permission")
            if spec.query is not None:
                kwargs["query"] = parsing.query(spec.query)
            elif request.args:
                name = next(iter(request.args))
                raise ApiError(400, f"{name}: unknown query parameter", field=name)
            if spec.body is not None:
                kwargs["body"] = parsing.body(spec.body, optional=spec.body_optional)
            elif method in ("POST", "PUT", "PATCH"):
                extra = parsing.json_object(optional=True)
                if extra:
                    name = next(iter(extra))
                    raise ApiError(400, f"{name}: unknown field", field=name)
            return view(**kwargs)

        wrapper.__name__ = view.__name__
        wrapper.__doc__ = view.__doc__
        setattr(wrapper, SPEC_ATTR, spec)
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapper, methods=[method])
        return view

    return decorate


def spec_of(view: Callable[..., Any]) -> RouteSpec | None:
    found: RouteSpec | None = getattr(view, SPEC_ATTR, None)
    return found
