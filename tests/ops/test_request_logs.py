"""One JSON event per request, with its id, user, route, status and duration; no credential."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from portal.logs import JsonFormatter, MaskingFormatter, log_config
from tests.auth.test_access import SSO
from tests.ops.conftest import CapturedLog
from tests.web.conftest import client_for, settings_for
from tests.web.test_serve import free_port, serve_env

HEX_ID = re.compile(r"[0-9a-f]{20,}")  # this process's random prefix, then a counter


def test_each_request_is_one_event_with_its_id_user_route_status_and_duration(
    web_repo: Path, json_log: CapturedLog
) -> None:
    client, _portal = client_for(settings_for(web_repo))
    with client:
        response = client.get("/catalog/component/default/nobody")
        ids = {client.get("/healthz").headers["x-request-id"] for _ in range(50)}
    assert response.status_code == 404
    assert len(ids) == 50 and response.headers["x-request-id"] not in ids  # never reused
    event = json_log.requests()[0]
    assert HEX_ID.fullmatch(event["request_id"])
    assert response.headers["x-request-id"] == event["request_id"]
    assert event["level"] == "info" and event["logger"] == "portal.access"
    assert event["method"] == "GET"
    assert event["path"] == "/catalog/component/default/nobody"
    assert event["route"] == "/catalog/{kind}/{namespace}/{name}"
    assert event["status"] == 404
    assert isinstance(event["duration_ms"], float) and event["duration_ms"] >= 0
    assert event["user"] == "dev@localhost"
    assert event["client"] == "127.0.0.1"
    # Every line is one JSON object, the time first, in UTC.
    assert all(line.startswith('{"time":"') for line in json_log.lines())
    assert event["time"].endswith("+00:00")


def test_a_callers_request_id_is_kept_echoed_and_on_every_line_of_the_request(
    web_repo: Path, json_log: CapturedLog
) -> None:
    client, _portal = client_for(settings_for(web_repo))  # sites not built: readyz warns
    with client:
        answer = client.get("/readyz", headers={"X-Request-ID": "lb-7f3a:42"})
        assert answer.headers["x-request-id"] == "lb-7f3a:42"
        for bad in ("has spaces", "x" * 200, "<script>"):
            replaced = client.get("/healthz", headers={"X-Request-ID": bad})
            assert HEX_ID.fullmatch(replaced.headers["x-request-id"])
    during = [e for e in json_log.events() if e.get("request_id") == "lb-7f3a:42"]
    assert [e["logger"] for e in during] == ["portal.web.ops", "portal.access"]
    assert during[0]["message"].startswith("readiness: sites not built")
    assert during[1]["status"] == 503 and during[1]["level"] == "warning"
    # Probes that succeed are logged at DEBUG (the portal logs INFO and up by default).
    assert {e["level"] for e in json_log.requests() if e["route"] == "/healthz"} == {"debug"}


def test_credentials_in_a_query_string_never_reach_the_log(
    web_repo: Path, json_log: CapturedLog
) -> None:
    client, _portal = client_for(settings_for(web_repo, **SSO))
    secret = "qp_0123456789ab_S3cretPart"
    with client:
        client.get(
            "/search",
            params={"q": "payments", "token": "T0KEN-VALUE", "access_token": "ACCESS-VALUE"},
            headers={"Authorization": f"Bearer {secret}"},
        )
        client.get(f"/catalog?note={secret}")
    text = "\n".join(json_log.lines())
    for value in ("T0KEN-VALUE", "ACCESS-VALUE", "S3cretPart"):
        assert value not in text
    search, catalog = json_log.requests()
    assert search["path"] == "/search?q=payments&token=****&access_token=****"
    assert search["user"] == "anonymous" and search["status"] == 401  # the bad token
    assert catalog["path"] == "/catalog?note=qp_****"
    assert "qp_****" in catalog["message"]


def test_text_on_a_terminal_json_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    def formatter(config: dict[str, Any]) -> Any:
        return config["formatters"]["default"]["()"]

    assert formatter(log_config("json")) is JsonFormatter
    assert formatter(log_config("text")) == MaskingFormatter.wrapping
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as terminal:
        monkeypatch.setattr(sys, "stderr", terminal)
        assert formatter(log_config("auto")) == MaskingFormatter.wrapping
    os.close(leader)
    with open(os.devnull, "w") as not_a_terminal:
        monkeypatch.setattr(sys, "stderr", not_a_terminal)
        assert formatter(log_config("auto")) is JsonFormatter


# -- portal serve, as an operator runs it -------------------------------------------


@contextmanager
def serving(root: Path, data: Path, **env: str) -> Iterator[tuple[str, Path]]:
    """``portal serve --no-build`` with its output in a file (not a terminal)."""
    port = free_port()
    output = data.parent / f"serve-{port}.log"
    command = [sys.executable, "-m", "portal", "serve", "--root", str(root)]
    command += ["--port", str(port), "--no-build"]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=root,
            env={**serve_env(data), **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a bound, not a target
        while True:
            assert process.poll() is None, output.read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        yield url, output
    finally:
        process.terminate()
        process.wait(60)


def test_portal_serve_writes_json_lines_when_not_on_a_terminal(
    web_repo: Path, tmp_path: Path
) -> None:
    with serving(web_repo, tmp_path / "data") as (url, output):
        answer = httpx.get(
            f"{url}/catalog?kind=api&state=ONE-TIME", headers={"X-Request-ID": "edge-1"}
        )
        assert answer.headers["x-request-id"] == "edge-1"
    lines = output.read_text().splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    # Every log record is JSON; only the command's own banner (click.echo) is not.
    assert all(line.startswith("{") or line.startswith("Quantum Portal:") for line in lines), lines
    assert any(e["message"] == "Application startup complete." for e in events)
    (request,) = [e for e in events if e.get("event") == "request"]
    assert request["request_id"] == "edge-1"
    assert request["path"] == "/catalog?kind=api&state=****"
    assert request["route"] == "/catalog" and request["status"] == 200
    assert request["user"] == "dev@localhost"
    assert not any("HTTP/1.1" in line for line in lines)  # no second (uvicorn) access line


def test_portal_serve_writes_text_when_told(web_repo: Path, tmp_path: Path) -> None:
    with serving(web_repo, tmp_path / "data", PORTAL_LOG_FORMAT="text") as (url, output):
        httpx.get(f"{url}/catalog", headers={"X-Request-ID": "edge-2"})
    text = output.read_text()
    assert "GET /catalog 200" in text and "· dev@localhost · edge-2" in text
    assert not any(line.startswith("{") for line in text.splitlines())
