"""Parsed sources kept between runs under ``.cache/portal``, keyed by content and by code.

An entry is found only by a key the caller derives from everything the cached
value is computed from (a file's text, an API's definition); the file as a
whole is valid only for the code that wrote it, since a parser or renderer that
changes would otherwise serve results it no longer produces. Only values are
kept, never checks against other sources: those run again on every load.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["EntryCache", "code_version", "content_key"]

_FORMAT = 1

log = logging.getLogger(__name__)


def code_version(*modules: ModuleType) -> str:
    """A digest of the source of ``modules`` (a package counts all its modules)."""
    digest = hashlib.sha256(f"{_FORMAT} {sys.version}".encode())
    for module in modules:
        origin = Path(module.__file__ or "")
        files = sorted(origin.parent.glob("*.py")) if origin.name == "__init__.py" else [origin]
        for file in files:
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def content_key(*parts: str) -> str:
    """A key for the value computed from ``parts``."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


class EntryCache:
    """Entries in one pickle file; those not used by a run are dropped when it saves.

    Without a ``path`` nothing is read or written: every lookup misses.
    """

    def __init__(self, path: Path | None, version: str) -> None:
        self.path = path
        self.version = version
        self._old: dict[str, Any] = {}
        self._used: dict[str, Any] = {}
        self._changed = False
        if path is None:
            return
        try:
            with open(path, "rb") as fh:
                stored = pickle.load(fh)
        except Exception:  # unpickling fails in many ways; any of them means an empty cache
            return
        if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == version:
            entries = stored[1]
            self._old = entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> Any | None:
        value = self._used.get(key)
        if value is None:
            value = self._old.get(key)
            if value is not None:
                self._used[key] = value
        return value

    def put(self, key: str, value: Any) -> None:
        self._used[key] = value
        self._changed = True

    def save(self) -> None:
        """Write the entries used since loading, if any was added or one went unused."""
        if self.path is None or not (self._changed or self._used.keys() != self._old.keys()):
            return
        # Per process and thread: the portal's workers (search, scorecards) load models at once.
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                pickle.dump((self.version, self._used), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
        except OSError as exc:
            # A cache that cannot be written (a full disk, a read-only folder) costs the
            # next run its parses, never this run its result.
            log.warning("cache %s not saved: %s", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return
        self._old, self._changed = dict(self._used), False
