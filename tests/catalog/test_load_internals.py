"""Two helpers of the catalog load: the collector's pause across threads, and real paths."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.catalog import parse_ref
from portal.catalog.loader import _realpath, collector_paused
from tests.conftest import GROUP_A, MakeCatalog, component


@pytest.fixture
def collecting() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.usefixtures("collecting")
def test_overlapping_pauses_end_with_the_last_one() -> None:
    # A enters, B enters, A leaves (still paused: B loads), B leaves (collecting again):
    # the order in which the portal's workers can overlap.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def a() -> None:
        with collector_paused():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with collector_paused():
            b_in.set()
            a_out.wait(5)
            seen["after A left"] = gc.isenabled()
        seen["after B left"] = gc.isenabled()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"after A left": False, "after B left": True}


@pytest.mark.usefixtures("collecting")
def test_many_threads_leave_the_collector_as_they_found_it() -> None:
    start = threading.Barrier(8)

    def load() -> None:
        start.wait(5)
        for _ in range(200):
            with collector_paused(), collector_paused():  # nested, as loads call loads
                pass

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert gc.isenabled()


def test_a_pause_keeps_a_collector_that_was_off_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_real_paths_match_the_standard_library(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    root = tmp_path / "root"
    (root / "catalog" / "team").mkdir(parents=True)
    outside.mkdir()
    (root / "catalog" / "team" / "a.yaml").write_text("x")
    (outside / "b.yaml").write_text("x")
    os.symlink(root / "catalog" / "team" / "a.yaml", root / "catalog" / "inside.yaml")
    os.symlink(outside / "b.yaml", root / "catalog" / "outside.yaml")
    os.symlink(outside, root / "catalog" / "linked")
    os.symlink(tmp_path / "nowhere.yaml", root / "catalog" / "dangling.yaml")
    os.symlink("loop.yaml", root / "catalog" / "loop.yaml")
    folders: dict[str, str] = {}
    for path in [
        root / "catalog" / "team" / "a.yaml",
        root / "catalog" / "inside.yaml",
        root / "catalog" / "outside.yaml",
        root / "catalog" / "linked" / "b.yaml",
        root / "catalog" / "dangling.yaml",
        root / "catalog" / "loop.yaml",
        root / "catalog" / "..",
        root / "catalog" / "team" / ".",
    ]:
        assert _realpath(str(path), folders) == os.path.realpath(path), path


def test_a_symlinked_catalog_file_counts_where_it_leads(
    make_catalog: MakeCatalog, tmp_path: Path
) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside.yaml"
    outside.write_text(component("stranger"))
    (tmp_path / "catalog").mkdir()
    os.symlink(outside, tmp_path / "catalog" / "outside.yaml")
    os.symlink(tmp_path / "catalog" / "a.yaml", tmp_path / "catalog" / "again.yaml")
    result = make_catalog({"catalog/a.yaml": component(), "catalog/team.yaml": GROUP_A})
    assert [p.message for p in result.report.errors] == [
        "is a symlink that leaves the repository; catalog files must stay inside it"
    ]
    # The file and its link inside the repository are one file, read once.
    assert result.files == 2
    assert parse_ref("component:orders") in result.catalog
    assert parse_ref("component:stranger") not in result.catalog
