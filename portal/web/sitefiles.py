"""Serving the built audience sites: safe paths, validators, cache headers, helpful 404s."""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import mimetypes
import os
import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

__all__ = [
    "SiteFile",
    "file_response",
    "locate",
    "not_modified",
    "search_settings_response",
    "suggestions",
]

# Material's and our bundled assets carry a content hash in their names: cache them forever.
_HASHED = re.compile(r"\.[0-9a-f]{8,}(\.min)?\.(js|css|json|woff2?|svg|png)(\.map)?$")
_IMMUTABLE = "public, max-age=31536000, immutable"


class SiteFile:
    """A file of a site that may be served, or the redirect a directory needs."""

    def __init__(self, path: Path | None, redirect: str | None = None) -> None:
        self.path = path
        self.redirect = redirect


def locate(site_root: Path, relative: str, *, url_path: str) -> SiteFile | None:
    """The file ``relative`` names inside ``site_root``, or None.

    Refuses ``..`` and ``.`` segments, backslashes, NUL bytes and anything that,
    once symlinks are followed, lies outside the site. A directory is served by
    its index.html (after a redirect that adds the trailing slash); it is never
    listed.
    """
    if "\x00" in relative or "\\" in relative:
        return None
    parts = [p for p in relative.split("/") if p]
    if any(p in (".", "..") for p in parts):
        return None
    root = os.path.realpath(site_root)
    if not os.path.isdir(root):
        return None
    candidate = os.path.realpath(os.path.join(root, *parts))
    if candidate != root and not candidate.startswith(root + os.sep):
        return None
    if os.path.isdir(candidate):
        index = os.path.join(candidate, "index.html")
        if not os.path.isfile(index):
            return None
        if relative and not relative.endswith("/"):
            return SiteFile(None, redirect=url_path + "/")
        return SiteFile(Path(index))
    if os.path.isfile(candidate):
        return SiteFile(Path(candidate))
    return None


def _etag(stat: os.stat_result) -> str:
    return f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'


def not_modified(request: Request, etag: str, modified: datetime) -> bool:
    """Whether the client's copy (by If-None-Match, else If-Modified-Since) is current."""
    tags = request.headers.get("if-none-match")
    if tags is not None:
        return etag in {t.strip().removeprefix("W/") for t in tags.split(",")} or tags == "*"
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def file_response(request: Request, path: Path, *, private: bool = False) -> Response:
    """``path`` with ETag and Last-Modified; 304 when the client's copy is current.

    ``private`` files (an internal audience's) may be kept by the browser, never by a
    shared cache on the way.
    """
    stat = path.stat()
    etag = _etag(stat)
    modified = datetime.fromtimestamp(stat.st_mtime, UTC)
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified, usegmt=True),
        # Pages change with every build: revalidate them; hashed assets never change.
        "Cache-Control": _IMMUTABLE if _HASHED.search(path.name) else "no-cache",
    }
    if private:
        headers["Cache-Control"] = headers["Cache-Control"].replace("public", "private")
        headers["Cache-Control"] += ", private" if "private" not in headers["Cache-Control"] else ""
    if not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type == "text/html":
        # Material pages carry a few inline scripts: allow exactly those, by hash.
        headers["Content-Security-Policy"] = csp(script_hashes(str(path), stat.st_mtime_ns))
    if media_type.startswith("text/") or media_type in ("application/javascript", "image/svg+xml"):
        media_type += "; charset=utf-8"
    return FileResponse(path, media_type=media_type, headers=headers, stat_result=stat)


def search_settings_response(request: Request, path: Path, *, private: bool = False) -> Response:
    """A site's ``search/search_index.json`` without its documents: the settings part only.

    Material's page downloads the whole index and hands it to its search worker; the
    worker the portal serves asks the portal's search instead, so the documents (a
    few MB on a large site) would be downloaded on every visit for nothing. The file
    on disk stays whole, for a site opened from disk.
    """
    stat = path.stat()
    etag = f'"settings-{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    modified = datetime.fromtimestamp(stat.st_mtime, UTC)
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": "no-cache, private" if private else "no-cache",
    }
    if not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    body = _search_settings(str(path), stat.st_mtime_ns, stat.st_size)
    return Response(body, media_type="application/json", headers=headers)


@lru_cache(maxsize=32)
def _search_settings(path: str, mtime_ns: int, size: int) -> bytes:
    with open(path, "rb") as handle:
        index = json.load(handle)
    config = index.get("config", {}) if isinstance(index, dict) else {}
    return json.dumps({"config": config, "docs": []}, separators=(",", ":")).encode()


_INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S | re.I)


@lru_cache(maxsize=4096)
def script_hashes(path: str, _mtime_ns: int) -> tuple[str, ...]:
    """CSP hashes of the inline scripts of an HTML file (keyed by mtime: builds replace files)."""
    try:
        html = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ()
    hashes: list[str] = []
    for match in _INLINE_SCRIPT.finditer(html):
        attrs = match.group("attrs").lower()
        if "src=" in attrs or "application/json" in attrs:
            continue  # external, or data that is never run
        digest = hashlib.sha256(match.group("body").encode()).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return tuple(dict.fromkeys(hashes))


def csp(script_hashes: tuple[str, ...] = (), form_targets: tuple[str, ...] = ()) -> str:
    """The Content-Security-Policy: our own origin only, and no inline script but ``hashes``."""
    scripts = " ".join(("'self'", *script_hashes))
    forms = " ".join(("'self'", *form_targets))
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        f"worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action {forms}; "
        "frame-ancestors 'self'"
    )


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=308)


def suggestions(site_root: Path, relative: str, limit: int = 5) -> list[str]:
    """Pages of the site whose paths look like ``relative`` (for a 404 page)."""
    pages = _pages(os.path.realpath(site_root))
    wanted = relative.strip("/").lower()
    if not wanted:
        return []
    close = difflib.get_close_matches(wanted, pages, n=limit, cutoff=0.5)
    last = wanted.rsplit("/", 1)[-1]
    by_name = [p for p in pages if last and p.rsplit("/", 1)[-1] == last and p not in close]
    return [*close, *by_name][:limit]


@lru_cache(maxsize=16)
def _pages(real_root: str) -> list[str]:
    """Every page directory of a build (a build never changes: it is keyed by its real path)."""
    pages: list[str] = []
    for directory, _dirs, files in os.walk(real_root):
        if "index.html" in files:
            relative = os.path.relpath(directory, real_root)
            if relative != ".":
                pages.append(relative.replace(os.sep, "/").lower())
    return sorted(pages)
