"""Two `portal serve` replicas, as real subprocesses on two ports, sharing PostgreSQL, Redis and
Azure Blob Storage (Azurite): what a load balancer in front of them would rely on.

The replicas check for changes, leases and new builds every half second or second
here (their settings), so the waits below are bounds, not targets.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

import httpx

from portal.web.signin import LOGINS_PER_MINUTE
from tests.azurite import Azurite
from tests.conftest import component
from tests.scale.conftest import Redis
from tests.sites.conftest import small_repo
from tests.web.test_serve import READY_TIMEOUT, RunningPortal, free_port, serve_env

T = TypeVar("T")

# Bounds, not targets: replicas poll every half second; a build of the small repository
# and its upload take seconds.
CHANGE_TIMEOUT = 30.0
BUILD_TIMEOUT = 240.0

HEALTHY = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: status-page
  annotations:
    portal.quantum.dev/health: /healthz
    portal.quantum.dev/environment.production: http://127.0.0.1:{port}
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


def eventually(what: str, probe: Callable[[], T | None], timeout: float) -> T:
    """Ask ``probe`` until it answers something (not None); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)


class Cluster:
    """The shared settings of the replicas, and the replicas started so far."""

    def __init__(self, root: Path, env: dict[str, str], stack: ExitStack, probed: int) -> None:
        self.root = root
        self.probed_port = probed
        self.env = env
        self.stack = stack

    def publish(self) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "portal", "build", "--publish", "--root", str(self.root)],
            cwd=self.root,
            env={**self.env, "PORTAL_DATA_DIR": str(self.root.parent / "publisher")},
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def replica(self, name: str, port: int | None = None) -> RunningPortal:
        port = port or free_port()
        data = self.root.parent / f"data-{name}"
        env = {**self.env, **{k: v for k, v in serve_env(data).items() if k.startswith("PORTAL_")}}
        log_path = self.root.parent / f"replica-{name}.log"
        command = [sys.executable, "-m", "portal", "serve", "--root", str(self.root)]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*command, "--port", str(port)],
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = RunningPortal(f"http://127.0.0.1:{port}", process, log_path)
        self.stack.callback(stop_quietly, server)
        server.wait_ready(READY_TIMEOUT)
        return server


def stop_quietly(server: RunningPortal) -> None:
    if server.process.poll() is None:
        server.stop()


@contextmanager
def cluster(tmp_path: Path, postgres_url: str, redis: Redis, azurite: Azurite) -> Iterator[Cluster]:
    probed = free_port()  # replica b's port: the catalog's one live service is b itself
    root = small_repo(tmp_path / "repo")
    (root / "catalog" / "status-page.yaml").write_text(HEALTHY.format(port=probed))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    env.update(
        {
            "PORTAL_DATABASE_URL": postgres_url,
            "PORTAL_SEARCH_ENGINE": "postgres",
            "PORTAL_REDIS_URL": redis.url,
            "PORTAL_REDIS_PREFIX": redis.prefix,
            "PORTAL_SITE_STORE": "azure",
            "PORTAL_SITE_STORE_CONNECTION_STRING": azurite.connection_string,
            "PORTAL_SITE_STORE_CONTAINER": azurite.new_container(),
            "PORTAL_SITE_STORE_POLL_SECONDS": "0.5",
            "PORTAL_CHANGES_POLL_SECONDS": "0.5",
            "PORTAL_LEASE_SECONDS": "1",
            "PORTAL_LIVE_PROBE_INTERVAL": "1",
            "PORTAL_LIVE_ALLOWED_HOSTS": json.dumps([f"127.0.0.1:{probed}"]),
        }
    )
    with ExitStack() as stack:
        yield Cluster(root, env, stack, probed)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def kill_all(pids: list[int]) -> None:
    """End what a killed replica left running (a build it had started), as its pod's end would."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # ended already
            os.killpg(pid, signal.SIGKILL)  # the build runs in a process group of its own


def leases(server: RunningPortal) -> set[str]:
    """The leases a replica holds, as its /metrics says."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return {
        line.split('lease="', 1)[1].split('"', 1)[0]
        for line in text.splitlines()
        if line.startswith("portal_lease_held{") and line.endswith(" 1.0")
    }


def entity(server: RunningPortal, name: str) -> int:
    url = f"{server.url}/api/v1/entities/component/default/{name}"
    return httpx.get(url, timeout=10).status_code


def docs_page(server: RunningPortal, name: str) -> int:
    url = f"{server.url}/docs/staff/catalog/component/default/{name}/"
    return httpx.get(url, timeout=10).status_code


def live_checked(server: RunningPortal) -> str | None:
    rows = httpx.get(f"{server.url}/live/status", timeout=10).json()["environments"]
    return rows[0]["checked_at"] if rows else None


def test_two_replicas_share_state_limits_builds_and_survive_a_kill(
    tmp_path: Path, postgres_url: str, redis: Redis, azurite: Azurite
) -> None:
    with cluster(tmp_path, postgres_url, redis, azurite) as replicas:
        # A build published once, before any replica runs...
        assert "published" in replicas.publish()
        a = replicas.replica("a")
        b = replicas.replica("b", port=replicas.probed_port)
        # ...is served by both.
        pages = [httpx.get(f"{r.url}/docs/staff/", timeout=10) for r in (a, b)]
        assert [p.status_code for p in pages] == [200, 200]
        assert pages[0].text == pages[1].text
        assert docs_page(a, "things-service") == docs_page(b, "things-service") == 200

        # a started first: it runs the background work.
        assert leases(a) == {"probes", "scorecards"}
        assert leases(b) == set()
        # Probe results are shared: b shows what a probed (b's own /healthz).
        checked = eventually("a probe result on b", lambda: live_checked(b), CHANGE_TIMEOUT)
        assert eventually("the same on a", lambda: live_checked(a), CHANGE_TIMEOUT) >= checked

        # A registration on a is visible on b.
        registered = httpx.post(
            f"{a.url}/api/v1/entities",
            json={"descriptor": component("payments")},
            timeout=30,
        )
        assert registered.status_code == 201, registered.text
        eventually(
            "the registration on b", lambda: entity(b, "payments") == 200 or None, CHANGE_TIMEOUT
        )
        # a rebuilds and publishes once; both switch to the new build.
        for server in (a, b):
            eventually(
                f"the rebuilt docs on {server.url}",
                lambda server=server: docs_page(server, "payments") == 200 or None,
                BUILD_TIMEOUT,
            )

        # A rate limit counts across both.
        for attempt in range(LOGINS_PER_MINUTE):
            server = (a, b)[attempt % 2]
            answer = httpx.get(f"{server.url}/login", timeout=10)
            assert answer.status_code == 303, (attempt, answer.text)
        assert httpx.get(f"{a.url}/login", timeout=10).status_code == 429
        assert httpx.get(f"{b.url}/login", timeout=10).status_code == 429

        # A registration on a, then a is killed at once: nothing is lost.
        registered = httpx.post(
            f"{a.url}/api/v1/entities",
            json={"descriptor": component("refunds")},
            timeout=30,
        )
        assert registered.status_code == 201, registered.text
        orphans = children(a.process.pid)  # its background build, if one is running
        replicas.stack.callback(kill_all, orphans)
        os.kill(a.process.pid, signal.SIGKILL)
        a.process.wait(30)
        eventually(
            "the last registration on the survivor",
            lambda: entity(b, "refunds") == 200 or None,
            CHANGE_TIMEOUT,
        )
        # The leases move to b, which goes on probing...
        eventually(
            "the leases on b",
            lambda: leases(b) == {"probes", "scorecards"} or None,
            CHANGE_TIMEOUT,
        )
        before = live_checked(b)
        assert before is not None
        eventually("a probe by b", lambda: (live_checked(b) or "") > before or None, CHANGE_TIMEOUT)
        # ...and the build a owed is published (by a's build, or taken over by b).
        eventually(
            "the docs of the last registration",
            lambda: docs_page(b, "refunds") == 200 or None,
            BUILD_TIMEOUT,
        )
        assert httpx.get(f"{b.url}/readyz", timeout=10).status_code == 200
