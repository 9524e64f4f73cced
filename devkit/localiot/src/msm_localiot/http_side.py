"""The AWS IoT data plane over HTTP, in the wire format boto3's `iot-data` client speaks.

    POST   /things/{thingName}/shadow[?name=]   UpdateThingShadow
    GET    /things/{thingName}/shadow[?name=]   GetThingShadow
    DELETE /things/{thingName}/shadow[?name=]   DeleteThingShadow
    GET    /api/things/shadow/ListNamedShadowsForThing/{thingName}
    POST   /topics/{topic}?qos=&retain=         Publish
    GET    /healthz                             localiot's readiness (not AWS)

Errors carry AWS's error document as the body and the exception name in `x-amzn-ErrorType`,
which is where botocore reads the error code from (ConflictException, ...). Requests are not
authenticated: this listens on loopback only, for the local stack and tests.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Final

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from .publishing import Publisher, publish_all, to_json
from .shadow.model import Deleted, Got, Rejected
from .shadow.service import INTERNAL_FAILURE, Operation, ShadowService, messages_for
from .shadow.store import ShadowKey

log = logging.getLogger(__name__)

THING_RE: Final = re.compile(r"[A-Za-z0-9:_-]{1,128}")
SHADOW_NAME_RE: Final = re.compile(r"[A-Za-z0-9:_-]{1,64}")
MAX_PUBLISH_BYTES: Final = 128 * 1024
ERROR_TYPES: Final = {
    400: "InvalidRequestException",
    401: "UnauthorizedException",
    403: "ForbiddenException",
    404: "ResourceNotFoundException",
    405: "MethodNotAllowedException",
    409: "ConflictException",
    413: "RequestEntityTooLargeException",
    415: "UnsupportedDocumentEncodingException",
    429: "ThrottlingException",
    500: "InternalFailureException",
    503: "ServiceUnavailableException",
}
_METHODS: Final[dict[str, Operation]] = {"POST": "update", "GET": "get", "DELETE": "delete"}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


_NOT_PUBLISHABLE = ("$aws/events/", "msm-local/")


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class IotDataApp:
    """A WSGI application; `create_server` runs it."""

    def __init__(
        self,
        shadows: ShadowService,
        publisher: Publisher,
        clock: Callable[[], float],
        *,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self._shadows = shadows
        self._publisher = publisher
        self._clock = clock
        self._ready = ready
        self._urls = Map(
            [
                Rule("/things/<thing>/shadow", endpoint="shadow", methods=list(_METHODS)),
                Rule(
                    "/api/things/shadow/ListNamedShadowsForThing/<thing>",
                    endpoint="named",
                    methods=["GET"],
                ),
                Rule("/topics/<path:topic>", endpoint="publish", methods=["POST"]),
                Rule("/healthz", endpoint="health", methods=["GET"]),
            ]
        )
        self._views: dict[str, Callable[..., Response]] = {
            "shadow": self._shadow,
            "named": self._named,
            "publish": self._publish,
            "health": self._health,
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            endpoint, args = self._urls.bind_to_environ(environ).match()
            response = self._views[endpoint](request, **args)
        except _ApiError as exc:
            response = self._error(exc.status, exc.message)
        except HTTPException as exc:
            response = self._error(exc.code or 500, exc.description or exc.name)
        except Exception:  # answer like AWS, never with a stack trace page
            log.exception("%s %s failed", request.method, request.path)
            response = self._error(500, INTERNAL_FAILURE)
        return response(environ, start_response)

    # -- views -----------------------------------------------------------------------------------
    def _shadow(self, request: Request, thing: str) -> Response:
        key = ShadowKey(_thing(thing), _shadow_name(request.args.get("name")))
        op = _METHODS[request.method]
        result = self._shadows.handle(key, op, request.get_data())
        publish_all(self._publisher, messages_for(key, op, result, via_mqtt=False))
        if isinstance(result, Rejected):
            return self._error(result.code, result.message, result.payload())
        if isinstance(result, Got):
            return _json(result.document)
        if isinstance(result, Deleted):
            return _json(result.accepted)
        return _json(result.accepted)

    def _named(self, request: Request, thing: str) -> Response:
        names = self._shadows.named_shadows(_thing(thing))
        try:
            size = max(1, min(int(request.args.get("pageSize", "100")), 100))
            start = int(request.args.get("nextToken", "0"))
        except ValueError:
            raise _ApiError(400, "Invalid pageSize or nextToken") from None
        body: dict[str, Any] = {"results": names[start : start + size], "timestamp": self._now()}
        if start + size < len(names):
            body["nextToken"] = str(start + size)
        return _json(body)

    def _publish(self, request: Request, topic: str) -> Response:
        if not topic or "+" in topic or "#" in topic:
            raise _ApiError(400, f"Invalid topic: {topic!r}")
        if topic.startswith(_NOT_PUBLISHABLE):
            # Published as localiot's own identity, the only one allowed to announce lifecycle
            # and registry events or answer a claim client: an unauthenticated caller may not.
            raise _ApiError(403, f"Publishing to {topic!r} is not allowed")
        payload = request.get_data()
        if len(payload) > MAX_PUBLISH_BYTES:
            raise _ApiError(413, "The payload exceeds the maximum size allowed")
        qos = 1 if request.args.get("qos") == "1" else 0
        retain = request.args.get("retain", "false").lower() == "true"
        self._publisher.publish(topic, payload, qos, retain)
        return Response(b"", status=200)

    def _health(self, _request: Request) -> Response:
        """localiot's own readiness (not an AWS API): 503 until the broker connection is up."""
        ready = self._ready()
        return _json({"status": "ok" if ready else "starting"}, 200 if ready else 503)

    # -- helpers ---------------------------------------------------------------------------------
    def _error(self, status: int, message: str, body: dict[str, Any] | None = None) -> Response:
        document = body or {"code": status, "message": message, "timestamp": self._now()}
        response = _json(document, status)
        response.headers["x-amzn-ErrorType"] = ERROR_TYPES.get(status, "InternalFailureException")
        return response

    def _now(self) -> int:
        return int(self._clock())


def _thing(value: str) -> str:
    if THING_RE.fullmatch(value) is None:
        raise _ApiError(400, f"Invalid thing name: {value!r}")
    return value


def _shadow_name(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if SHADOW_NAME_RE.fullmatch(value) is None:
        raise _ApiError(400, f"Invalid shadow name: {value!r}")
    return value


def _json(document: object, status: int = 200) -> Response:
    response = Response(to_json(document), status=status, content_type="application/json")
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


class HttpServer:
    """The WSGI app on a threaded werkzeug server in a background thread."""

    def __init__(self, app: WsgiApp, host: str, port: int) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="localiot-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> HttpServer:
        self._thread.start()
        log.info("iot-data HTTP endpoint on http://%s:%d", *self._server.server_address[:2])
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
