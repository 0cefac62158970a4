"""`portal serve` as a person runs it: a real subprocess that builds, listens and stops.

``running_portal`` is shared with the browser tests (tests/web/test_browser.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import component
from tests.sites.conftest import small_repo

# Bounds, not targets: the small repository is ready in a few seconds, the real one in ~15.
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0


@dataclass
class RunningPortal:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float) -> float:
        """Poll /healthz until it answers; returns the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"portal serve exited with {self.process.returncode} before it was ready:\n"
                    + self.log()
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"portal serve not ready after {timeout:.0f} s:\n" + self.log())

    def stop(self) -> None:
        """Ctrl+C: SIGINT to the server's process group, background builds included."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                raise AssertionError(
                    f"portal serve ignored Ctrl+C for {STOP_TIMEOUT:.0f} s:\n" + self.log()
                ) from None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_env(data_dir: Path) -> dict[str, str]:
    """Only the settings a test gives: none of the developer's PORTAL_* variables.

    (The child runs in the repository under test, so no .env of the checkout is read.)
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    env["PORTAL_DATA_DIR"] = str(data_dir)
    return env


@contextmanager
def running_portal(root: Path, data_dir: Path) -> Iterator[RunningPortal]:
    """``python -m portal serve --root ROOT`` on a free loopback port, stopped afterwards."""
    port = free_port()
    log_path = data_dir.parent / f"portal-serve-{port}.log"
    command = [sys.executable, "-m", "portal", "serve", "--root", str(root), "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=serve_env(data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as in a terminal
        )
    server = RunningPortal(f"http://127.0.0.1:{port}", process, log_path)
    try:
        seconds = server.wait_ready(READY_TIMEOUT)
        print(f"portal serve ready in {seconds:.1f} s at {server.url}")
        yield server
    finally:
        server.stop()


def test_serve_builds_then_serves_pages_sites_and_the_api(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    with running_portal(root, tmp_path / "data") as server:
        assert f"Quantum Portal: {server.url}/" in server.log()
        assert "sites: 3 rebuilt" in server.log()
        with httpx.Client(base_url=server.url, timeout=10) as http:
            home = http.get("/")
            assert home.status_code == 200
            assert 'href="/docs/staff/"' in home.text and "Development identity" in home.text

            catalog = http.get("/catalog")
            assert catalog.status_code == 200 and "things-service" in catalog.text

            site = http.get("/docs/staff/")
            assert site.status_code == 200
            assert "md-content" in site.text  # a Material page, built by serve before it listened

            descriptor = component("payments", owner="team-a")
            registered = http.post("/api/v1/entities", json={"descriptor": descriptor})
            assert registered.status_code == 201, registered.text
            entity = http.get("/api/v1/entities/component/default/payments")
            assert entity.status_code == 200
            assert entity.json()["source"]["registered_by"] == "dev@localhost"
            assert "/catalog/component/default/payments" in http.get("/catalog").text

    # Stopped by Ctrl+C: the app shut down completely, and no request or lifespan failed.
    assert server.process.returncode == 0, server.log()
    assert "Application shutdown complete" in server.log()
    assert "ERROR:" not in server.log()


def test_serve_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    done = subprocess.run(
        [sys.executable, "-m", "portal", "serve", "--root", str(root), "--host", "0.0.0.0"],
        cwd=root,
        env=serve_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "--host 0.0.0.0" in done.stderr and "loopback (127.0.0.1 or ::1)" in done.stderr
    assert not (root / "site").exists()  # refused before building anything


def test_serve_stops_at_start_up_when_a_secret_reference_cannot_be_resolved(
    tmp_path: Path,
) -> None:
    root = small_repo(tmp_path / "repo")
    env = serve_env(tmp_path / "data")
    env["PORTAL_SESSION_SECRET"] = "env://QP_TEST_NOT_SET"
    env.pop("QP_TEST_NOT_SET", None)
    done = subprocess.run(
        [sys.executable, "-m", "portal", "serve", "--root", str(root), "--no-build", "--port", "0"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "setting PORTAL_SESSION_SECRET: env://QP_TEST_NOT_SET" in done.stderr
    assert "Uvicorn running" not in done.stderr
