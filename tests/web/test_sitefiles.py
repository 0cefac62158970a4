"""Finding a site's files: what is remembered between requests never serves what it should not."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request

from portal.web import sitefiles
from portal.web.sitefiles import file_response, locate, memory_response


def build(site: Path, name: str, pages: dict[str, str]) -> Path:
    """A build folder under site/.builds and the audience's symlink switched to it."""
    folder = site / ".builds" / name
    for relative, text in pages.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    link = site / "everyone"
    temporary = site / "everyone.new"
    temporary.symlink_to(Path(".builds") / name)
    os.replace(temporary, link)
    return folder


def found(site: Path, relative: str) -> str | None:
    located = locate(site / "everyone", relative, url_path=f"/docs/everyone/{relative}")
    if located is None:
        return None
    if located.redirect is not None:
        return f"redirect {located.redirect}"
    assert located.path is not None
    return located.path.read_text()


def test_a_new_build_is_found_anew_and_a_removed_file_is_gone(tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = build(site, "b1", {"index.html": "home 1", "guide/index.html": "guide 1"})
    assert found(site, "guide/") == "guide 1"
    assert found(site, "guide") == "redirect /docs/everyone/guide/"
    assert found(site, "guide/") == "guide 1"  # remembered, same answer

    build(site, "b2", {"index.html": "home 2", "guide/index.html": "guide 2"})
    assert found(site, "guide/") == "guide 2"  # the switch is seen at once

    (site / ".builds" / "b2" / "guide" / "index.html").unlink()
    assert found(site, "guide/") is None
    assert first.is_dir()  # the older build is left for requests still reading it


def test_a_remembered_file_replaced_by_a_symlink_out_of_the_site_is_refused(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for readers")
    site = tmp_path / "site"
    folder = build(site, "b1", {"page.html": "a page"})
    assert found(site, "page.html") == "a page"

    (folder / "page.html").unlink()
    (folder / "page.html").symlink_to(secret)
    assert found(site, "page.html") is None
    assert found(site, "../secret.txt") is None
    assert found(site, "page.html/..") is None


def test_without_resolving_only_a_remembered_file_is_known(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build(site, "b1", {"guide/index.html": "guide 1"})
    url = "/docs/everyone/guide/"
    assert locate(site / "everyone", "guide/", url_path=url, resolve=False) is None
    assert found(site, "guide/") == "guide 1"
    known = locate(site / "everyone", "guide/", url_path=url, resolve=False)
    assert known is not None and known.path is not None and known.stat is not None
    build(site, "b2", {"guide/index.html": "guide 2"})  # a new build: not known yet
    assert locate(site / "everyone", "guide/", url_path=url, resolve=False) is None


def request(headers: dict[str, str] | None = None) -> Request:
    raw = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


def test_a_file_is_answered_from_memory_only_once_read(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p>hello</p>")
    stat = page.stat()
    assert memory_response(request(), page, stat=stat) is None  # never read: a thread reads it
    read = file_response(request(), page, stat=stat)
    kept = memory_response(request(), page, stat=stat)
    assert kept is not None
    assert (kept.status_code, kept.body, kept.headers["etag"]) == (
        200,
        b"<p>hello</p>",
        read.headers["etag"],
    )
    fresh = memory_response(request({"if-none-match": read.headers["etag"]}), page, stat=stat)
    assert fresh is not None and fresh.status_code == 304
    # Private (an internal audience's) is another answer: not kept yet.
    assert memory_response(request(), page, stat=stat, private=True) is None
    page.write_text("<p>hello again</p>")  # rewritten: a new size, so a new entry
    assert memory_response(request(), page, stat=page.stat()) is None


def test_what_is_kept_stays_within_its_byte_budget(tmp_path: Path) -> None:
    recent = sitefiles._Recent(budget=10_000, count=100)
    files = []
    for number in range(6):
        path = tmp_path / f"f{number}.bin"
        path.write_bytes(bytes(3_000))
        files.append(path)
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size, False)
        recent.put(key, sitefiles._prepare(*key))
        assert recent.used <= 10_000
    kept = [f for f in files if recent.get((str(f), f.stat().st_mtime_ns, 3_000, False))]
    assert kept == files[-2:]  # the most recent that fit
