"""A real HTTP server on 127.0.0.1 for tests of commands that download or post (network-config, the deploy
workflow's failure notice). Each route is a function of the request handler, so a test can answer with a
file, an error status, or a body cut short; every request is recorded."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    url: str
    routes: dict[str, Route]
    requests: list[Recorded] = field(default_factory=list)


def answer(status: int, body: bytes = b"", content_type: str = "application/json") -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return route


def cut_short(body: bytes) -> Route:
    """Announce the whole body, send half of it, close: the client sees a truncated download."""
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True
    return route


@contextmanager
def local_server(routes: dict[str, Route] | None = None) -> Iterator[LocalServer]:
    server_state = LocalServer(url="", routes=dict(routes or {}))

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server_state.requests.append(Recorded(self.command, self.path, dict(self.headers), body))
            route = server_state.routes.get(self.path)
            (route or answer(404, b"not found", "text/plain"))(self)

        do_GET = do_POST = _handle  # noqa: N815 - http.server's names

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
