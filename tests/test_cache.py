"""The cache of parsed sources: found by key, valid for one code version, never an error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import portal.docs
from portal.cache import EntryCache, code_version, content_key


def test_entries_come_back_for_the_same_version_only(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "entries.pickle"
    cache = EntryCache(path, "v1")
    assert cache.get("a") is None
    cache.put("a", ("parsed", 1))
    cache.save()
    assert EntryCache(path, "v1").get("a") == ("parsed", 1)
    assert EntryCache(path, "v2").get("a") is None


def test_a_save_keeps_only_the_entries_used(tmp_path: Path) -> None:
    path = tmp_path / "entries.pickle"
    cache = EntryCache(path, "v1")
    cache.put("old", 1)
    cache.put("kept", 2)
    cache.save()
    again = EntryCache(path, "v1")
    assert again.get("kept") == 2
    again.save()
    last = EntryCache(path, "v1")
    assert last.get("old") is None and last.get("kept") == 2


def test_a_damaged_file_is_an_empty_cache(tmp_path: Path) -> None:
    path = tmp_path / "entries.pickle"
    path.write_bytes(b"\x80\x05not a pickle")
    cache = EntryCache(path, "v1")
    assert cache.get("a") is None
    cache.put("a", 1)
    cache.save()
    assert EntryCache(path, "v1").get("a") == 1


def test_without_a_path_nothing_is_kept(tmp_path: Path) -> None:
    cache = EntryCache(None, "v1")
    cache.put("a", 1)
    cache.save()
    assert list(tmp_path.iterdir()) == []


def test_keys_and_versions_follow_their_inputs() -> None:
    assert content_key("a", "bc") != content_key("ab", "c")
    assert content_key("a", "b") == content_key("a", "b")
    assert code_version(portal.docs) == code_version(portal.docs)
    assert code_version(portal.docs) != code_version(portal.docs.markdown)


def test_a_cache_that_cannot_be_written_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The cache's folder is a file: nothing can be written under it, and the run goes on.
    (tmp_path / "blocked").write_text("not a folder")
    path = tmp_path / "blocked" / "entries.pickle"
    cache = EntryCache(path, "v1")
    cache.put("a", 1)
    with caplog.at_level(logging.WARNING, logger="portal.cache"):
        cache.save()
    assert f"cache {path} not saved" in caplog.text
    assert cache.get("a") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked"]
