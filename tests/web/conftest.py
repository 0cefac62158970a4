"""The real portal app on a small repository in tmp_path, with its own SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from portal.settings import Settings
from portal.web import create_app
from portal.web.runtime import Portal
from tests.sites.conftest import small_repo

LOOPBACK = ("127.0.0.1", 50000)
BASE = "http://127.0.0.1:8000"  # the development identity wants a loopback Host


def settings_for(root: Path, **overrides: object) -> Settings:
    return Settings(root=root, data_dir=root / "data", **overrides)  # type: ignore[arg-type]


def client_for(settings: Settings, *, rebuild: bool = False) -> tuple[TestClient, Portal]:
    portal = Portal(settings, rebuild=rebuild)
    app = create_app(settings, portal=portal)
    return TestClient(app, base_url=BASE, client=LOOPBACK, follow_redirects=False), portal


@pytest.fixture
def web_repo(tmp_path: Path) -> Path:
    return small_repo(tmp_path / "repo")


@pytest.fixture
def client(web_repo: Path) -> Iterator[TestClient]:
    test_client, _portal = client_for(settings_for(web_repo))
    with test_client:
        yield test_client


@pytest.fixture
def portal_of(client: TestClient) -> Portal:
    portal: Portal = client.app.state.portal  # type: ignore[attr-defined]
    return portal
