"""Azurite, Microsoft's Azure Storage emulator, as a real blob service on loopback for tests.

``scripts/task test`` installs the version ``scripts/azurite/package.json`` pins into
``.cache/portal/azurite`` (with npm); an ``azurite-blob`` on the PATH works too. Without
one the tests that need it skip, saying why, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import REPO

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

CANDIDATES = (
    str(REPO / ".cache" / "portal" / "azurite" / "node_modules" / ".bin" / "azurite-blob"),
    "azurite-blob",
)
ACCOUNT = "devstoreaccount1"
# Azurite's fixed development account key, published in its documentation: not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_TIMEOUT = 60.0


def connection_string(port: int, key: str = KEY) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )


def find_azurite(candidates: tuple[str, ...] = CANDIDATES) -> str | None:
    if shutil.which("node") is None:
        return None
    for candidate in candidates:
        found = shutil.which(candidate)
        if found is not None:
            return found
    return None


def azurite_or_skip(candidates: tuple[str, ...] = CANDIDATES) -> str:
    """The azurite-blob to run; without one (or without Node.js), skip, except in CI: fail."""
    found = find_azurite(candidates)
    if found is not None:
        return found
    reason = (
        f"no Azurite to run (Node.js and one of {', '.join(candidates)}): `scripts/task test` "
        "installs it with npm from scripts/azurite/package.json"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true, so the blob storage tests fail instead of skipping")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Azurite:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def connection_string(self) -> str:
        return connection_string(self.port)

    def container_client(self, name: str) -> ContainerClient:
        """The SDK's own client of container ``name``, to look at what the portal wrote."""
        from azure.storage.blob import ContainerClient

        return ContainerClient.from_connection_string(self.connection_string, name)

    def new_container(self) -> str:
        """A fresh, empty container: each test publishes into its own."""
        from azure.storage.blob import BlobServiceClient

        name = f"sites-{uuid.uuid4().hex[:12]}"
        with BlobServiceClient.from_connection_string(self.connection_string) as service:
            service.create_container(name)
        return name


def _wait_listening(azurite: Azurite) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if azurite.process.poll() is not None:
            raise AssertionError(f"Azurite exited at start:\n{azurite.log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", azurite.port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"Azurite did not listen within {START_TIMEOUT:.0f} s")


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite blob service for the session, in memory, on a free loopback port."""
    executable = azurite_or_skip()
    folder = tmp_path_factory.mktemp("azurite")
    port = free_port()
    log = folder / "azurite.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                executable,
                "--inMemoryPersistence",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                # azure-storage-blob speaks a newer service version than Azurite knows.
                "--skipApiVersionCheck",
            ],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Azurite(port, process, log)
    try:
        _wait_listening(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
