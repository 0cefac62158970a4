"""Serving the built audience sites: safe paths, validators, cache headers, helpful 404s."""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import mimetypes
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

__all__ = [
    "SiteFile",
    "file_response",
    "locate",
    "memory_response",
    "not_modified",
    "search_settings_response",
    "suggestions",
]

# Material's and our bundled assets carry a content hash in their names: cache them forever.
_HASHED = re.compile(r"\.[0-9a-f]{8,}(\.min)?\.(js|css|json|woff2?|svg|png)(\.map)?$")
_IMMUTABLE = "public, max-age=31536000, immutable"
# Files up to this size are read once, kept (the most recent, up to MEMORY_BYTES in
# all) and sent in one piece; larger ones (and range requests) are streamed by
# FileResponse. A kept file is sent without a trip to a worker thread.
SMALL_FILE_BYTES = 2 * 1024 * 1024
MEMORY_BYTES = 64 * 1024 * 1024


class SiteFile:
    """A file of a site that may be served, or the redirect a directory needs."""

    def __init__(
        self, path: Path | None, redirect: str | None = None, stat: os.stat_result | None = None
    ) -> None:
        self.path = path
        self.redirect = redirect
        self.stat = stat  # the file's, when locating it read it anyway


def locate(
    site_root: Path, relative: str, *, url_path: str, resolve: bool = True
) -> SiteFile | None:
    """The file ``relative`` names inside ``site_root``, or None.

    Refuses ``..`` and ``.`` segments, backslashes, NUL bytes and anything that,
    once symlinks are followed, lies outside the site. A directory is served by
    its index.html (after a redirect that adds the trailing slash); it is never
    listed.

    Following symlinks means a system call for every part of the path; a found
    file is remembered (for the site folder as it points now: a new build is a
    new target) and only checked to still be a regular file the next time.

    Without ``resolve``, only a remembered file is looked at (one ``lstat``, no path
    walk: for the event loop); None then means "not known yet", not "not found".
    """
    if "\x00" in relative or "\\" in relative:
        return None
    parts = tuple(p for p in relative.split("/") if p)
    if any(p in (".", "..") for p in parts):
        return None
    key = (os.fspath(site_root), _target_of(site_root), parts)
    remembered = _FOUND.get(key)
    checked = _regular_file(remembered[0]) if remembered is not None else None
    if remembered is not None and checked is not None:
        file, is_index = remembered
    elif not resolve:
        return None
    else:
        found = _resolve(site_root, parts)
        if found is None:
            return None
        file, is_index = found
        if len(_FOUND) >= _FOUND_MAX:
            _FOUND.clear()  # builds come and go: start again rather than grow
        _FOUND[key] = found
    if is_index and relative and not relative.endswith("/"):
        return SiteFile(None, redirect=url_path + "/")
    return SiteFile(Path(file), stat=checked)


_FOUND: dict[tuple[str, str | None, tuple[str, ...]], tuple[str, bool]] = {}
_FOUND_MAX = 20_000


def _regular_file(path: str) -> os.stat_result | None:
    """Its stat while it is a file, not replaced by a symlink (which could lead out of
    the site); else None."""
    try:
        found = os.lstat(path)
    except OSError:
        return None
    return found if S_ISREG(found.st_mode) else None


def _target_of(site_root: Path) -> str | None:
    """What the site folder points to (a build), or None when it is not a symlink."""
    try:
        return os.readlink(site_root)
    except OSError:
        return None


def _resolve(site_root: Path, parts: tuple[str, ...]) -> tuple[str, bool] | None:
    """(the file, whether it is a folder's index.html) with every symlink followed."""
    root = os.path.realpath(site_root)
    if not os.path.isdir(root):
        return None
    candidate = os.path.realpath(os.path.join(root, *parts))
    if candidate != root and not candidate.startswith(root + os.sep):
        return None
    if os.path.isdir(candidate):
        index = os.path.join(candidate, "index.html")
        return (index, True) if os.path.isfile(index) else None
    if os.path.isfile(candidate):
        return candidate, False
    return None


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


def file_response(
    request: Request, path: Path, *, private: bool = False, stat: os.stat_result | None = None
) -> Response:
    """``path`` with ETag and Last-Modified; 304 when the client's copy is current.

    For sync routes (it reads small files in the calling thread). ``stat``: the
    file's, when the caller has it already.

    ``private`` files (an internal audience's) may be kept by the browser, never by a
    shared cache on the way.
    """
    if stat is None:
        stat = path.stat()
    prepared = _prepared(str(path), stat.st_mtime_ns, stat.st_size, private)
    return _answer(request, path, prepared, stat)


def memory_response(
    request: Request, path: Path, *, stat: os.stat_result, private: bool = False
) -> Response | None:
    """:func:`file_response` when it needs no file read (a small file already served in
    this version): for the event loop. None when the file must be read (in a thread)."""
    prepared = _PREPARED.get((str(path), stat.st_mtime_ns, stat.st_size, private))
    if prepared is None or prepared.body is None:
        return None
    return _answer(request, path, prepared, stat)


def _answer(request: Request, path: Path, prepared: _Prepared, stat: os.stat_result) -> Response:
    headers = dict(prepared.headers)
    if not_modified(request, prepared.etag, prepared.modified):
        return Response(status_code=304, headers=headers)
    if prepared.body is not None and "range" not in request.headers:
        return Response(prepared.body, media_type=prepared.media_type, headers=headers)
    return FileResponse(path, media_type=prepared.media_type, headers=headers, stat_result=stat)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What answering with one version of a file takes, worked out once."""

    etag: str
    modified: datetime
    headers: tuple[tuple[str, str], ...]
    media_type: str
    body: bytes | None  # small files, read whole; larger ones are streamed


class _Recent:
    """The most recently used answers' parts, by (path, time, size, private), as many as
    fit in ``budget`` bytes of kept file contents (and at most ``count`` of them)."""

    def __init__(self, budget: int, count: int = 4096) -> None:
        self.budget = budget
        self.count = count
        self.used = 0
        self._items: OrderedDict[tuple[str, int, int, bool], _Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, int, bool]) -> _Prepared | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, int, int, bool], value: _Prepared) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.used -= _weight(old)
            self._items[key] = value
            self.used += _weight(value)
            while self._items and (self.used > self.budget or len(self._items) > self.count):
                _key, dropped = self._items.popitem(last=False)
                self.used -= _weight(dropped)


def _weight(prepared: _Prepared) -> int:
    return len(prepared.body or b"") + 1024  # the headers and the entry itself, roughly


_PREPARED = _Recent(MEMORY_BYTES)


def _prepared(path: str, mtime_ns: int, size: int, private: bool) -> _Prepared:
    """The answer's parts for ``path`` as it is at ``mtime_ns`` and ``size``, kept in
    :data:`_PREPARED`.

    Site builds never rewrite a file in place (a build is a new folder), and a file
    rewritten anyway has a new time or size, so a stale entry is never used.
    """
    key = (path, mtime_ns, size, private)
    found = _PREPARED.get(key)
    if found is None:
        found = _prepare(path, mtime_ns, size, private)
        _PREPARED.put(key, found)
    return found


def _prepare(path: str, mtime_ns: int, size: int, private: bool) -> _Prepared:
    name = os.path.basename(path)
    modified = datetime.fromtimestamp(mtime_ns / 1e9, UTC)
    etag = f'"{mtime_ns:x}-{size:x}"'
    # Pages change with every build: revalidate them; hashed assets never change.
    cache = _IMMUTABLE if _HASHED.search(name) else "no-cache"
    if private:
        cache = cache.replace("public", "private")
        cache += ", private" if "private" not in cache else ""
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": cache,
    }
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type == "text/html":
        # Material pages carry a few inline scripts: allow exactly those, by hash.
        headers["Content-Security-Policy"] = csp(script_hashes(path, mtime_ns))
    if media_type.startswith("text/") or media_type in ("application/javascript", "image/svg+xml"):
        media_type += "; charset=utf-8"
    body = None
    if size <= SMALL_FILE_BYTES:
        with open(path, "rb") as handle:
            body = handle.read()
        if len(body) != size:  # rewritten meanwhile: its new time makes a new entry
            body = None
    return _Prepared(etag, modified, tuple(headers.items()), media_type, body)


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
