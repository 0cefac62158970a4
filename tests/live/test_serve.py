"""`portal serve` probes the portal's own /healthz on its schedule: one live, green service."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.live.conftest import live_repo
from tests.web.test_serve import READY_TIMEOUT, RunningPortal, free_port, serve_env

# A bound, not a target: the first scheduled round runs about two seconds after start-up.
GREEN_TIMEOUT = 60.0

PORTAL = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: developer-portal
  annotations:
    portal.quantum.dev/health: /healthz
    portal.quantum.dev/environment.development: http://127.0.0.1:{port}
spec:
  type: service
  lifecycle: experimental
  owner: team-a
"""


def test_a_fresh_serve_shows_the_portal_itself_live(tmp_path: Path) -> None:
    port = free_port()
    root = live_repo(tmp_path / "repo", {"catalog/portal.yaml": PORTAL.format(port=port)})
    env = serve_env(tmp_path / "data")
    # The example catalog uses port 8000, which the default allow-list holds; this test's
    # port is a free one, so it is allowed the same way, explicitly.
    env["PORTAL_LIVE_ALLOWED_HOSTS"] = json.dumps([f"127.0.0.1:{port}"])
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "portal", "serve", "--root", str(root), "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = RunningPortal(f"http://127.0.0.1:{port}", process, log_path)
    try:
        server.wait_ready(READY_TIMEOUT)
        status: list[dict[str, object]] = []
        started = time.monotonic()
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while time.monotonic() - started < GREEN_TIMEOUT:
                status = http.get("/live/status").json()["environments"]
                if status and status[0]["status"] != "unknown":
                    break
                time.sleep(0.5)
            assert [(s["entity"], s["environment"], s["status"]) for s in status] == [
                ("component:default/developer-portal", "development", "up")
            ], server.log()
            home = http.get("/").text
            assert "development: up" in home.split('<h2 id="live">', 1)[1]
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log()
