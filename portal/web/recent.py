"""When files last changed: their last commit in git, or their modification time without git.

A fresh clone gives every file the same modification time, so git's history is
the only honest answer to "what changed recently" in a checkout.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["last_changes"]

HISTORY = 500  # commits read: enough to date every recently changed file


def last_changes(root: Path, folders: Sequence[str]) -> dict[str, datetime]:
    """Path (relative to ``root``, with forward slashes) -> when it last changed.

    Uncommitted edits count from their modification time. Files git has never
    seen, or every file when ``root`` is not in a git work tree, fall back to it too.
    """
    changes: dict[str, datetime] = {}
    log = _git(
        root, "log", f"-n{HISTORY}", "--format=%x00%ct", "--name-only", "--relative", "--", *folders
    )
    if log is not None:
        when: datetime | None = None
        for line in log.splitlines():
            if line.startswith("\x00"):
                when = datetime.fromtimestamp(int(line[1:]), UTC)
            elif line and when is not None:
                changes.setdefault(line, when)
        dirty = _git(root, "status", "--porcelain", "--untracked-files=all", "--", *folders)
        for line in (dirty or "").splitlines():
            name = line[3:].strip().strip('"')
            changes[name] = _mtime(root / name) or changes.get(name) or datetime.now(UTC)
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            if path.is_file():
                relative = path.relative_to(root).as_posix()
                if relative not in changes and (stamp := _mtime(path)) is not None:
                    changes[relative] = stamp
    return changes


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
