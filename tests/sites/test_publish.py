"""Publishing built sites to Azure Blob Storage (Azurite, a real blob service on loopback).

Each test publishes into a container of its own. The pointer (current.json) must be
the last blob written, and nothing a failed publish did may change what is served.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from portal.exceptions import ConfigError, PortalError
from portal.secrets import mask, remember_secrets
from portal.settings import Settings
from portal.sites.blob import POINTER, BlobSites, PointerConflict, StoreError
from portal.sites.build import build_sites
from portal.sites.publish import prune_store, publish_sites
from portal.sites.store import LocalStore, open_store
from tests.azurite import KEY, Azurite, azurite_or_skip, connection_string, free_port
from tests.sites.conftest import small_repo

MARKER = "SECRET-INTERNAL-MARKER"
RUNBOOK = "internal/runbook/index.html"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose three sites are built (staff, builders, partners)."""
    root = small_repo(tmp_path_factory.mktemp("publish") / "repo")
    build_sites(Settings(root=root), workers=2)
    return root


def store_settings(root: Path, azurite: Azurite, container: str, **extra: object) -> Settings:
    values: dict[str, object] = {
        "root": root,
        "data_dir": root / "data",
        "site_store": "azure",
        "site_store_connection_string": azurite.connection_string,
        "site_store_container": container,
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(built: Path, azurite: Azurite) -> Iterator[tuple[Settings, BlobSites]]:
    settings = store_settings(built, azurite, azurite.new_container())
    blobs = BlobSites(settings)
    yield settings, blobs
    blobs.close()


def edited_copy(built: Path, target: Path, text: str) -> Path:
    """The built sites copied to ``target``, with the staff runbook saying ``text``."""
    for audience in ("staff", "builders", "partners"):
        shutil.copytree(built / "site" / audience, target / audience)
    page = target / "staff" / RUNBOOK
    page.write_text(page.read_text().replace(MARKER, text))
    return target


def test_publish_uploads_objects_then_manifests_and_the_pointer_last(
    store: tuple[Settings, BlobSites],
) -> None:
    settings, blobs = store
    written: list[str] = []
    result = publish_sites(settings, ["staff", "partners"], store=blobs, progress=written.append)

    assert sorted(result.published) == ["partners", "staff"]
    assert written[-1] == POINTER
    manifests = [i for i, name in enumerate(written) if name.startswith("builds/")]
    objects = [i for i, name in enumerate(written) if name.startswith("objects/")]
    assert len(manifests) == 2 and objects and max(objects) < min(manifests)
    pointer = blobs.read_pointer()
    assert pointer.builds == {"staff": result.build, "partners": result.build}
    manifest = blobs.read_manifest(result.build, "staff")
    assert RUNBOOK in manifest.files and "index.html" in manifest.files
    # Files shared by both sites (the theme's assets) are stored once.
    shared = {s for s, _ in manifest.files.values()} & {
        s for s, _ in blobs.read_manifest(result.build, "partners").files.values()
    }
    assert shared and result.reused == 0
    assert len(blobs.object_names()) == result.uploaded


def test_a_second_publish_uploads_only_what_changed(
    store: tuple[Settings, BlobSites], built: Path, tmp_path: Path
) -> None:
    settings, blobs = store
    first = publish_sites(settings, ["staff"], store=blobs)
    again = publish_sites(settings, ["staff"], store=blobs)
    assert again.unchanged == ["staff"] and again.published == [] and again.uploaded == 0
    assert blobs.read_pointer().builds == {"staff": first.build}

    second = publish_sites(
        settings, ["staff"], out=edited_copy(built, tmp_path / "b", "SECOND"), store=blobs
    )
    distinct = {sha for sha, _size in blobs.read_manifest(second.build, "staff").files.values()}
    assert second.published == ["staff"] and second.uploaded == 1
    assert second.reused == len(distinct) - 1
    assert blobs.read_pointer().builds == {"staff": second.build} and second.build > first.build


def test_an_unreadable_file_stops_the_publish_before_any_upload(
    store: tuple[Settings, BlobSites], built: Path, tmp_path: Path
) -> None:
    settings, blobs = store
    sites = edited_copy(built, tmp_path / "broken", "X")
    broken = sites / "staff" / "assets" / "gone.js"
    broken.symlink_to(tmp_path / "nowhere.js")
    with pytest.raises(PortalError) as caught:
        publish_sites(settings, ["staff"], out=sites, store=blobs)
    message = str(caught.value)
    assert "nothing was published" in message and f"{broken}: cannot be read" in message
    assert blobs.object_names() == set() and blobs.read_pointer().builds == {}


def test_an_interrupted_publish_leaves_the_current_build_served(
    store: tuple[Settings, BlobSites], built: Path, tmp_path: Path
) -> None:
    settings, blobs = store
    first = publish_sites(settings, ["staff"], store=blobs)
    before = blobs.read_pointer()

    class Killed(Exception):
        pass

    uploads: list[str] = []

    def die_after_two(name: str) -> None:
        uploads.append(name)
        if len(uploads) == 2:
            raise Killed  # as if the publisher died here

    sites = tmp_path / "c"
    for audience in ("staff", "partners"):  # partners: new to the store, many files to upload
        shutil.copytree(built / "site" / audience, sites / audience)
    (sites / "staff" / RUNBOOK).write_text("THIRD")
    with pytest.raises(Killed):
        publish_sites(
            settings, ["staff", "partners"], out=sites, store=blobs, progress=die_after_two
        )
    after = blobs.read_pointer()
    assert after.builds == {"staff": first.build} and after.etag == before.etag
    assert not any(build != first.build for build, _a, _w in blobs.manifests())

    # Publishing again finishes the job; what was already uploaded is not sent twice.
    done = publish_sites(settings, ["staff", "partners"], out=sites, store=blobs)
    assert done.published == ["staff", "partners"] and done.reused >= 1


def test_the_pointer_is_only_written_over_the_version_read(
    store: tuple[Settings, BlobSites],
) -> None:
    _settings, blobs = store
    first = blobs.write_pointer({"staff": "20260101T000000000000Z-a"}, etag=None, when="t")
    with pytest.raises(PointerConflict):  # someone else created it first
        blobs.write_pointer({"staff": "20260101T000000000000Z-b"}, etag=None, when="t")
    blobs.write_pointer({"staff": "20260101T000000000000Z-c"}, etag=first.etag, when="t")
    with pytest.raises(PointerConflict):  # someone else wrote it since
        blobs.write_pointer({"staff": "20260101T000000000000Z-d"}, etag=first.etag, when="t")
    assert blobs.read_pointer().builds == {"staff": "20260101T000000000000Z-c"}


def test_two_publishers_at_once_keep_each_others_audiences(
    store: tuple[Settings, BlobSites], built: Path, tmp_path: Path
) -> None:
    settings, blobs = store
    other: list[str] = []

    def meanwhile(name: str) -> None:
        # Once the first publisher has read the pointer and written its manifest, a
        # second one publishes another audience and switches before it.
        if name.startswith("builds/") and not other:
            other.append(publish_sites(settings, ["partners"], store=blobs).build)

    first = publish_sites(settings, ["staff"], store=blobs, progress=meanwhile)
    assert first.published == ["staff"]
    assert blobs.read_pointer().builds == {"staff": first.build, "partners": other[0]}

    # The same audience: the newer build (the one that started later) stays.
    late: list[str] = []

    def overtaken(name: str) -> None:
        if name.startswith("builds/") and not late:
            sites = edited_copy(built, tmp_path / "newer", "NEWER")
            late.append(publish_sites(settings, ["staff"], out=sites, store=blobs).build)

    older = publish_sites(
        settings,
        ["staff"],
        out=edited_copy(built, tmp_path / "older", "OLDER"),
        store=blobs,
        progress=overtaken,
    )
    assert older.superseded == ["staff"] and older.published == []
    assert blobs.read_pointer().builds["staff"] == late[0]


def test_prune_keeps_the_served_build_and_deletes_only_what_nothing_names(
    store: tuple[Settings, BlobSites], built: Path, tmp_path: Path
) -> None:
    settings, blobs = store
    builds, runbooks = [], []
    for index in range(4):
        sites = edited_copy(built, tmp_path / str(index), f"VERSION-{index}")
        builds.append(publish_sites(settings, ["staff"], out=sites, store=blobs).build)
        runbooks.append(f"objects/{blobs.read_manifest(builds[-1], 'staff').files[RUNBOOK][0]}")
    # Each publish prunes: beyond the newest three builds, the manifests go...
    assert sorted(b for b, _a, _w in blobs.manifests()) == builds[1:]
    # ... and an object once no manifest names it, but only when older than the grace period.
    assert runbooks[0].removeprefix("objects/") in blobs.object_names()

    deleted = prune_store(blobs, keep=2, grace=timedelta(0))
    assert sorted(deleted) == sorted([runbooks[0], f"builds/{builds[1]}/staff.json"])
    assert prune_store(blobs, keep=2, grace=timedelta(0)) == [runbooks[1]]
    # What is served is whole: every object its manifest names is there.
    served = blobs.read_manifest(blobs.read_pointer().builds["staff"], "staff")
    assert {sha for sha, _ in served.files.values()} <= blobs.object_names()
    # Never the build served, however few are kept.
    assert prune_store(blobs, keep=0, grace=timedelta(hours=1)) == [
        f"builds/{builds[2]}/staff.json"
    ]
    assert [b for b, _a, _w in blobs.manifests()] == [builds[3]]


# -- bad settings -----------------------------------------------------------------------


def publish_command(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``portal build --publish`` as a user runs it, with only the PORTAL_* variables given."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    return subprocess.run(
        [sys.executable, "-m", "portal", "build", "--publish", "--root", str(root)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**base, "PORTAL_DATA_DIR": str(root / "data"), "PORTAL_SITE_STORE": "azure", **env},
    )


def test_portal_build_publish_builds_and_publishes(built: Path, azurite: Azurite) -> None:
    container = azurite.new_container()
    run = publish_command(
        built,
        PORTAL_SITE_STORE_CONNECTION_STRING="env://SITE_STORE",  # references resolve too
        SITE_STORE=azurite.connection_string,
        PORTAL_SITE_STORE_CONTAINER=container,
    )
    assert run.returncode == 0, run.stderr
    assert "staff            published as build" in run.stderr
    assert "files uploaded" in run.stderr
    blobs = BlobSites(store_settings(built, azurite, container))
    try:
        assert sorted(blobs.read_pointer().builds) == ["builders", "partners", "staff"]
    finally:
        blobs.close()


def test_a_missing_container_is_named_before_anything_is_built(
    built: Path, azurite: Azurite
) -> None:
    run = publish_command(
        built,
        PORTAL_SITE_STORE_CONNECTION_STRING=azurite.connection_string,
        PORTAL_SITE_STORE_CONTAINER="no-such-container",
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "container 'no-such-container' at http://127.0.0.1:" in run.stderr
    assert "does not exist (setting PORTAL_SITE_STORE_CONTAINER)" in run.stderr
    assert "built " not in run.stderr  # it failed before the build


BAD_CREDENTIALS = {
    "malformed": "setting PORTAL_SITE_STORE_CONNECTION_STRING: not a storage connection string",
    "wrong-key": "refused the credential of setting PORTAL_SITE_STORE_CONNECTION_STRING",
    "unreachable": "cannot reach the container 'sites-",
    "unresolved": "setting PORTAL_SITE_STORE_CONNECTION_STRING: env://NO_SUCH_VARIABLE: the "
    "environment variable NO_SUCH_VARIABLE is not set",
}


@pytest.mark.parametrize("case", sorted(BAD_CREDENTIALS))
def test_bad_credentials_give_a_message_naming_the_setting(
    built: Path, azurite: Azurite, case: str
) -> None:
    connection = {
        "malformed": "AccountName=x;garbage",
        "wrong-key": connection_string(azurite.port, key=KEY.replace("E", "F", 1)),
        "unreachable": connection_string(free_port()),  # nothing listens there
        "unresolved": "env://NO_SUCH_VARIABLE",
    }[case]
    run = publish_command(
        built,
        PORTAL_SITE_STORE_CONNECTION_STRING=connection,
        PORTAL_SITE_STORE_CONTAINER=azurite.new_container(),
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert BAD_CREDENTIALS[case] in run.stderr
    assert "PORTAL_SITE_STORE_CONNECTION_STRING" in run.stderr
    assert KEY[20:40] not in run.stderr  # never the key


def test_other_bad_settings(built: Path) -> None:
    local = subprocess.run(
        [sys.executable, "-m", "portal", "build", "--publish", "--root", str(built)],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")},
    )
    assert local.returncode == 2
    assert "--publish: PORTAL_SITE_STORE is local" in local.stderr

    with pytest.raises(ConfigError, match="needs PORTAL_SITE_STORE_CONNECTION_STRING"):
        open_store(Settings(root=built, site_store="azure"))
    with pytest.raises(ConfigError, match=r"PORTAL_SITE_STORE_URL: 'blob\.example' is not a URL"):
        open_store(Settings(root=built, site_store="azure", site_store_url="blob.example"))
    with pytest.raises(ValueError, match="'Sites_1' is not a container name"):
        Settings(root=built, site_store_container="Sites_1")
    run = publish_command(built, PORTAL_SITE_STORE_CONTAINER="Sites_1")
    assert run.returncode == 2
    assert "setting PORTAL_SITE_STORE_CONTAINER: Value error, 'Sites_1' is not" in run.stderr


def test_the_local_store_stays_the_default(built: Path) -> None:
    store = open_store(Settings(root=built))
    assert isinstance(store, LocalStore)
    assert store.site_dir("staff") == built / "site" / "staff"
    assert store.unavailable("staff") is None


def test_the_pointer_file_is_json_a_person_can_read(
    store: tuple[Settings, BlobSites], azurite: Azurite
) -> None:
    settings, blobs = store
    result = publish_sites(settings, ["partners"], store=blobs)
    raw = azurite.container_client(blobs.container).download_blob(POINTER).readall()
    body = json.loads(raw)
    assert body["builds"] == {"partners": result.build} and body["format"] == 1


def test_a_pointer_not_written_by_the_portal_is_reported(
    store: tuple[Settings, BlobSites], azurite: Azurite
) -> None:
    _settings, blobs = store
    azurite.container_client(blobs.container).upload_blob(POINTER, b"{not json")
    with pytest.raises(StoreError, match=r"current.json in the container .* is not a pointer"):
        blobs.read_pointer()


def test_without_azurite_the_tests_skip_except_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    nowhere = ("/nonexistent/azurite-blob",)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Azurite to run"):
        azurite_or_skip(nowhere)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true, so the blob storage tests fail"):
        azurite_or_skip(nowhere)


def test_the_connection_string_and_its_key_are_masked_in_logs(
    store: tuple[Settings, BlobSites],
) -> None:
    settings, _blobs = store
    remember_secrets(settings)
    line = f"connecting with {settings.site_store_connection_string} (key {KEY})"
    assert mask(line) == "connecting with **** (key ****)"
