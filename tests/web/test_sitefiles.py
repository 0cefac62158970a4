"""Finding a site's files: what is remembered between requests never serves what it should not."""

from __future__ import annotations

import os
from pathlib import Path

from portal.web.sitefiles import locate


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
