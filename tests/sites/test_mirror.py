"""Replicas serving published builds: the real app, a real blob service (Azurite), a clean cache.

A replica downloads the build the pointer names into its cache and serves local files;
a new build becomes visible in one switch, and a request that began on the old build
keeps reading the old build's files.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from portal.settings import Settings
from portal.sites.blob import BlobSites
from portal.sites.build import build_sites
from portal.sites.mirror import BlobStore
from portal.sites.publish import publish_sites
from portal.web import create_app
from portal.web.runtime import Portal
from tests.azurite import Azurite, connection_string, free_port
from tests.conftest import component
from tests.sites.conftest import small_repo
from tests.web.conftest import BASE, LOOPBACK, client_for

MARKER = "SECRET-INTERNAL-MARKER"
RUNBOOK = "internal/runbook/index.html"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = small_repo(tmp_path_factory.mktemp("mirror") / "repo")
    build_sites(Settings(root=root), workers=2)
    return root


@pytest.fixture
def settings(built: Path, azurite: Azurite, tmp_path: Path) -> Settings:
    """A replica's settings: its own data folder and an empty cache, a container of its own."""
    return Settings(
        root=built,
        data_dir=tmp_path / "data",
        site_store="azure",
        site_store_connection_string=azurite.connection_string,
        site_store_container=azurite.new_container(),
        site_store_poll_seconds=3600,  # the tests switch with refresh(), except the poll test
    )


@pytest.fixture
def blobs(settings: Settings) -> Iterator[BlobSites]:
    store = BlobSites(settings)
    yield store
    store.close()


@pytest.fixture
def replica(settings: Settings) -> Iterator[tuple[TestClient, Portal]]:
    client, portal = client_for(settings)
    with client:
        yield client, portal


def edited(built: Path, target: Path, text: str) -> Path:
    for audience in ("staff", "builders", "partners"):
        shutil.copytree(built / "site" / audience, target / audience)
    page = target / "staff" / RUNBOOK
    page.write_text(page.read_text().replace(MARKER, text))
    return target


def test_a_replica_with_a_clean_cache_serves_the_published_build(
    settings: Settings, blobs: BlobSites, built: Path, tmp_path: Path
) -> None:
    published = publish_sites(settings, ["staff", "partners"], out=edited(built, tmp_path, "ONE"))
    assert not settings.site_cache_path.exists()
    client, portal = client_for(settings)
    with client:
        page = client.get("/docs/staff/internal/runbook/")
        assert page.status_code == 200 and "ONE" in page.text
        assert page.headers["etag"] and "content-security-policy" in page.headers
        assert client.get("/docs/partners/").status_code == 200
        served = portal.site_dir("staff")
        assert served == settings.site_cache_path / "builds" / published.build / "staff"
        # Published sites only: builders was not, whatever the local site folder holds.
        missing = client.get("/docs/builders/")
        assert missing.status_code == 404
        assert "The builders site has not been published yet" in missing.text
        assert "portal build --publish" in missing.text
        # The 404 page of a published site still suggests its pages.
        lost = client.get("/docs/staff/internal/runbok/")
        assert lost.status_code == 404 and "internal/runbook" in lost.text
        # A replica is ready once every audience's site is there.
        assert "sites: failing" in client.get("/readyz").text
        publish_sites(settings, ["builders"])
        assert portal.site_store.refresh() is True
        assert "sites: ok" in client.get("/readyz").text
        assert client.get("/docs/builders/").status_code == 200


def test_a_second_publish_switches_every_file_at_once(
    replica: tuple[TestClient, Portal], settings: Settings, built: Path, tmp_path: Path
) -> None:
    client, portal = replica
    assert "has not been published yet" in client.get("/docs/staff/").text
    assert portal.site_store.refresh() is False  # nothing published: nothing to switch to
    publish_sites(settings, ["staff"], out=edited(built, tmp_path / "a", "FIRST"))
    assert portal.site_store.refresh() is True
    assert "FIRST" in client.get("/docs/staff/internal/runbook/").text
    old = portal.site_dir("staff")  # what a request that began now has resolved

    second = publish_sites(settings, ["staff"], out=edited(built, tmp_path / "b", "SECOND"))
    # Until the replica switches, it serves the first build, whole.
    assert "FIRST" in client.get("/docs/staff/internal/runbook/").text
    assert portal.site_store.refresh() is True
    assert portal.site_store.refresh() is False  # nothing new: one conditional read
    new = portal.site_dir("staff")
    assert new != old and new.name == "staff" and new.parent.name == second.build
    assert "SECOND" in client.get("/docs/staff/internal/runbook/").text
    # The request that began on the first build still reads the first build's files.
    assert "FIRST" in (old / RUNBOOK).read_text()
    # The new folder is the whole new build: exactly the manifest's files.
    files = {p.relative_to(new).as_posix() for p in new.rglob("*") if p.is_file()}
    blobs = BlobSites(settings)
    try:
        assert files == set(blobs.read_manifest(second.build, "staff").files)
    finally:
        blobs.close()
    # Unchanged files are one object on disk, shared by both builds.
    assert (old / "index.html").stat().st_ino == (new / "index.html").stat().st_ino


def test_a_failed_publish_changes_nothing_a_replica_serves(
    replica: tuple[TestClient, Portal], settings: Settings, built: Path, tmp_path: Path
) -> None:
    client, portal = replica
    publish_sites(settings, ["staff"], out=edited(built, tmp_path / "a", "FIRST"))
    portal.site_store.refresh()

    def die(name: str) -> None:
        raise RuntimeError(f"publisher killed after {name}")

    with pytest.raises(RuntimeError, match="publisher killed"):
        publish_sites(
            settings, ["staff"], out=edited(built, tmp_path / "b", "SECOND"), progress=die
        )
    assert portal.site_store.refresh() is False
    assert "FIRST" in client.get("/docs/staff/internal/runbook/").text


def test_old_builds_leave_the_cache_once_two_newer_are_there(
    replica: tuple[TestClient, Portal], settings: Settings, built: Path, tmp_path: Path
) -> None:
    client, portal = replica
    folders = []
    for index in range(3):
        publish_sites(settings, ["staff"], out=edited(built, tmp_path / str(index), f"V{index}"))
        portal.site_store.refresh()
        folders.append(portal.site_dir("staff"))
    assert not folders[0].exists() and folders[1].is_dir() and folders[2].is_dir()
    # The objects only the pruned build had are gone; every one left is linked by a build.
    objects = [p for p in (settings.site_cache_path / "objects").rglob("*") if p.is_file()]
    assert objects and all(p.stat().st_nlink >= 2 for p in objects)
    assert "V2" in client.get("/docs/staff/internal/runbook/").text


def test_a_restarted_replica_serves_its_cache_while_the_store_is_down(
    settings: Settings, built: Path, tmp_path: Path
) -> None:
    published = publish_sites(settings, ["staff"], out=edited(built, tmp_path, "CACHED"))
    first = BlobStore(settings)
    first.start()
    first.stop()

    down = settings.model_copy(
        update={"site_store_connection_string": connection_string(free_port())}
    )
    replica = BlobStore(down, BlobSites(down, retries=0))
    replica.start()
    try:
        assert replica.problem is not None and "cannot reach the container" in replica.problem
        assert replica.site_dir("staff").parent.name == published.build
        assert "CACHED" in (replica.site_dir("staff") / RUNBOOK).read_text()
        assert replica.unavailable("partners") is not None
        assert "cannot be read from the site store" in (replica.unavailable("partners") or "")
    finally:
        replica.stop()


def test_a_replica_whose_store_is_down_says_so_on_the_page(settings: Settings) -> None:
    down = settings.model_copy(
        update={"site_store_connection_string": connection_string(free_port())}
    )
    portal = Portal(down, rebuild=False)
    portal.site_store = BlobStore(down, BlobSites(down, retries=0))  # fail at once
    client = TestClient(create_app(down, portal=portal), base_url=BASE, client=LOOPBACK)
    with client:
        page = client.get("/docs/staff/")
    assert page.status_code == 404
    assert "The staff site cannot be read from the site store" in page.text
    assert "(setting PORTAL_SITE_STORE_CONNECTION_STRING)" in page.text


def test_the_replica_polls_the_pointer(settings: Settings, built: Path, tmp_path: Path) -> None:
    polling = settings.model_copy(update={"site_store_poll_seconds": 0.05})
    store = BlobStore(polling)
    store.start()
    try:
        published = publish_sites(settings, ["staff"], out=edited(built, tmp_path, "POLLED"))
        switched = threading.Event()
        for _ in range(600):  # a minute at most: it switches within a poll or two
            if store.site_dir("staff").parent.name == published.build:
                switched.set()
                break
            switched.wait(0.1)
        assert switched.is_set(), "the poller never switched to the published build"
    finally:
        store.stop()


def test_a_registration_rebuilds_publishes_and_every_replica_switches(
    azurite: Azurite, tmp_path: Path
) -> None:
    root = small_repo(tmp_path / "repo")
    settings = Settings(
        root=root,
        data_dir=tmp_path / "data",
        site_store="azure",
        site_store_connection_string=azurite.connection_string,
        site_store_container=azurite.new_container(),
        site_store_poll_seconds=3600,
    )
    build_sites(settings)
    publish_sites(settings, ["staff", "builders", "partners"])
    client, portal = client_for(settings, rebuild=True)
    with client:
        assert client.get("/docs/staff/catalog/component/default/fresh/").status_code == 404
        created = client.post("/api/v1/entities", json={"descriptor": component("fresh")})
        assert created.status_code == 201
        assert portal.builder.wait_idle(timeout=300)
        states = portal.build_states()
        assert states["staff"].status == "built", states["staff"].message
        # Built and published by the background build; served once the replica switches.
        assert portal.site_store.refresh() is True
        page = client.get("/docs/staff/catalog/component/default/fresh/")
        assert page.status_code == 200 and "fresh" in page.text
