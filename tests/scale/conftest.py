"""The shared services of a scaled-out portal, for real: PostgreSQL, Redis (and Azurite).

Each test gets a PostgreSQL database of its own (created and dropped on the machine's
server) and a Redis key prefix of its own (its keys deleted afterwards). Without a
server the tests skip, saying why, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.azurite import azurite, free_port

__all__ = ["Redis", "azurite", "postgres_url", "redis", "redis_server"]

POSTGRES_URL = os.environ.get(
    "PORTAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable(reason: str) -> None:
    """Skip the test, or in CI fail it: there the services must be running."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true, so the scale-out tests fail instead of skipping")
    pytest.skip(reason)


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database on the shared server (its SQLAlchemy URL), dropped afterwards."""
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL}: {str(error).strip()}")
    name = f"test_scale_{os.getpid()}_{secrets.token_hex(4)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        yield f"{base}/{name}"
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        admin.execute(drop.format(sql.Identifier(name)))
        admin.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@dataclass
class Redis:
    """The machine's Redis, seen through a key prefix of this test's own."""

    url: str
    prefix: str

    def client(self) -> object:
        import redis

        return redis.Redis.from_url(self.url)

    def keys(self) -> list[str]:
        import redis

        with redis.Redis.from_url(self.url) as client:
            return sorted(k.decode() for k in client.scan_iter(f"{self.prefix}*"))


@pytest.fixture
def redis() -> Iterator[Redis]:
    import redis as redis_client

    try:
        with redis_client.Redis.from_url(REDIS_URL, socket_connect_timeout=5) as client:
            client.ping()
    except redis_client.RedisError as error:
        unavailable(f"Redis is not reachable at {REDIS_URL}: {error}")
    shared = Redis(REDIS_URL, f"test-{os.getpid()}-{secrets.token_hex(4)}:")
    try:
        yield shared
    finally:
        with redis_client.Redis.from_url(REDIS_URL) as client:
            for key in client.scan_iter(f"{shared.prefix}*"):
                client.delete(key)


class RedisServer:
    """A redis-server of the test's own on a free port, which the test may stop and start."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis as redis_client

        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with redis_client.Redis(port=self.port, socket_connect_timeout=1) as client:
                    client.ping()
                    return
            except redis_client.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start within 30 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
