"""The portal as operators run it: built sites, a database that can go away, captured logs."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal.logs import JsonFormatter
from portal.settings import Settings
from portal.sites.build import build_sites
from tests.oidc_provider import oidc_provider, provider
from tests.ops.postgres import LocalPostgres, find_binaries
from tests.sites.conftest import small_repo
from tests.web.conftest import settings_for, web_repo

__all__ = [
    "CapturedLog",
    "built_repo",
    "json_log",
    "oidc_provider",
    "postgres",
    "provider",
    "settings_in",
    "web_repo",
]


def settings_in(root: Path, data: Path, **overrides: object) -> Settings:
    """Settings for ``root`` with the state (database, search index) in ``data``: tests
    share one built repository, each with state of its own."""
    return Settings(root=root, data_dir=data, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def built_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small repository with its three audience sites built (not to be changed)."""
    root = small_repo(tmp_path_factory.mktemp("ops") / "repo")
    build_sites(settings_for(root))
    return root


@pytest.fixture(scope="module")
def postgres() -> Iterator[LocalPostgres]:
    """A running PostgreSQL server of this module's own (tests may stop and start it).

    Without PostgreSQL's binaries the tests skip, saying why, except in CI
    (``CI=true``), where they fail instead.
    """
    binaries, reason = find_binaries()
    if binaries is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true, so the database tests fail instead of skipping")
        pytest.skip(reason)
    server = LocalPostgres(binaries)
    try:
        server.start()
        yield server
    finally:
        server.remove()


class CapturedLog:
    """The lines the portal's loggers write, as its JSON formatter writes them."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def requests(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e.get("event") == "request"]


@pytest.fixture
def json_log() -> Iterator[CapturedLog]:
    """The ``portal`` loggers at DEBUG into a JSON-formatted stream, as ``portal serve`` has
    them with PORTAL_LOG_FORMAT=json."""
    captured = CapturedLog()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("portal")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield captured
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
