"""A local HTTP server answering JSON, for stand-ins of the services a test does not run (a
pre-provisioning hook, the api's JWKS endpoint)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonStub:
    """Answers every GET and POST on 127.0.0.1 with 200 and the JSON of `answer()`; `calls`
    records each request's headers and JSON body (None without one). Serves inside `with`."""

    def __init__(self, answer: Callable[[], Any]) -> None:
        self.answer = answer
        self.calls: list[tuple[dict[str, str], Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub._reply(self)

            do_POST = do_GET

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def _reply(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length)) if length else None
        self.calls.append((dict(request.headers), body))
        data = json.dumps(self.answer()).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def __enter__(self) -> JsonStub:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
