"""Fake live services (real HTTP servers on loopback), a clock tests step, and a repository
whose catalog declares environments on them."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_files
from tests.sites.conftest import small_repo

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
HUGE = 1024 * 1024


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ManualClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: datetime = START) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@dataclass
class FakeService:
    """A live service on 127.0.0.1 that records every request it gets.

    Paths: /healthz (200), /fail (503), /slow (answers after the test ends), /same (302 to
    /healthz), /elsewhere (302 to ``elsewhere``), /huge and /huge-stream (1 MiB, with and
    without Content-Length), /echo (the request's headers as JSON, and a Set-Cookie).
    /toggle answers 503 while ``failing`` is set, else 200.
    """

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    elsewhere: str = "http://127.0.0.2:9/healthz"
    failing: bool = False
    released: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [r.path for r in self.received]


def _handler(service: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            service.received.append(
                Received(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
            if path == "/healthz":
                self._answer(200, b"ok")
            elif path == "/fail":
                self._answer(503, b"unavailable")
            elif path == "/toggle":
                self._answer(503 if service.failing else 200, b"toggle")
            elif path == "/slow":
                service.released.wait(10)
                with contextlib.suppress(OSError):  # the client gave up long ago
                    self._answer(200, b"late")
            elif path == "/same":
                self._answer(302, b"", {"Location": "/healthz"})
            elif path == "/elsewhere":
                self._answer(302, b"", {"Location": service.elsewhere})
            elif path == "/huge":
                self._answer(200, b"x" * HUGE)
            elif path == "/huge-stream":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                with contextlib.suppress(OSError):  # the client stops reading at its limit
                    for _ in range(HUGE // 8192):
                        self.wfile.write(b"2000\r\n" + b"y" * 8192 + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
            elif path == "/echo":
                echoed = {k.lower(): v for k, v in self.headers.items()}
                payload = json.dumps({"method": self.command, "headers": echoed}).encode()
                self._answer(
                    200,
                    payload,
                    {"Content-Type": "application/json", "Set-Cookie": "service=1; Path=/"},
                )
            else:
                self._answer(404, b"no such path")

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up early (a refused answer) is expected here


@pytest.fixture
def service() -> Iterator[FakeService]:
    server = QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    fake = FakeService(server)
    server.RequestHandlerClass = _handler(fake)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.released.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def live_component(name: str, environments: dict[str, str], health: str = "/healthz") -> str:
    """A Component declaring ``environments`` (name: base URL) and a health path."""
    lines = [
        f"    portal.quantum.dev/environment.{env}: {url}" for env, url in environments.items()
    ]
    if health:
        lines.append(f"    portal.quantum.dev/health: {health}")
    return (
        "apiVersion: backstage.io/v1alpha1\n"
        "kind: Component\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  annotations:\n" + "\n".join(lines) + "\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )


def live_repo(root: Path, files: dict[str, str]) -> Path:
    """The small test repository plus ``files``."""
    small_repo(root)
    write_files(root, files)
    return root
