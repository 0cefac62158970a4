"""``$text``, ``$json`` and ``$yaml`` placeholders, resolved relative to their file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from portal.catalog.sources import Refused, SourceResolver, Url
from portal.problems import Severity
from portal.yamlio import YamlError, load_documents

__all__ = ["PLACEHOLDERS", "substitute"]

PLACEHOLDERS = ("$text", "$json", "$yaml")

Path_ = tuple[str | int, ...]
Emit = Callable[[Path_, str, Severity], None]  # (key path, message, severity)


def substitute(
    document: dict[str, Any], base: Path | Url, resolver: SourceResolver, emit: Emit
) -> dict[Path_, Path | Url]:
    """Replace every placeholder mapping in ``document`` with the content it names.

    Returns where each replaced value came from, by key path. A placeholder
    that cannot be followed stays as written and is reported; one naming a URL
    that is not allow-listed is a warning, since the content itself is not wrong.
    """
    sources: dict[Path_, Path | Url] = {}
    max_depth = resolver.limits.max_depth
    stack: list[tuple[Any, Path_]] = [(document, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > max_depth:
            emit(path, f"nests more than {max_depth} levels", "error")
            continue
        if isinstance(node, dict):
            items: list[tuple[str | int, Any]] = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        else:
            continue
        for key, value in items:
            child = (*path, key)
            placeholder = _placeholder(value)
            if placeholder is None:
                stack.append((value, child))
                continue
            name, target = placeholder
            resolved = _resolve(name, target, base, resolver, child, emit)
            if resolved is not _UNRESOLVED:
                node[key] = resolved
                # The target resolved once already, so this cannot be refused now.
                sources[child] = resolver.resolve(base, target)[0]
    return sources


_UNRESOLVED = object()


def _placeholder(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, dict) and len(value) == 1:
        ((name, target),) = value.items()
        if name in PLACEHOLDERS:
            return name, target
    return None


def _resolve(
    name: str, target: Any, base: Path | Url, resolver: SourceResolver, path: Path_, emit: Emit
) -> Any:
    where = (*path, name)
    if not isinstance(target, str):
        emit(where, f"expected a relative path or URL, got {type(target).__name__}", "error")
        return _UNRESOLVED
    try:
        sources = resolver.resolve(base, target)
    except Refused as exc:
        emit(where, f"{target!r} {exc}", exc.severity)
        return _UNRESOLVED
    if len(sources) != 1:
        emit(where, f"{target!r} must name exactly one file, not a glob", "error")
        return _UNRESOLVED
    source = sources[0]
    if isinstance(source, Path) and not source.is_file():
        emit(where, f"{target!r}: no such file ({resolver.display(source)})", "error")
        return _UNRESOLVED
    try:
        text = resolver.read(source)
        if name == "$text":
            return text
        if name == "$json":
            return json.loads(text)
        documents = load_documents(text, resolver.limits)
    except YamlError as exc:
        at = f" at line {exc.line}" if exc.line else ""
        emit(where, f"{target!r}: {exc.message}{at}", "error")
        return _UNRESOLVED
    except (json.JSONDecodeError, RecursionError) as exc:
        emit(where, f"{target!r} is not valid JSON: {exc}", "error")
        return _UNRESOLVED
    except OSError as exc:
        emit(where, f"{target!r} cannot be read: {exc.strerror}", "error")
        return _UNRESOLVED
    if len(documents) != 1:
        emit(
            where, f"{target!r} must hold exactly one YAML document, not {len(documents)}", "error"
        )
        return _UNRESOLVED
    return documents[0]
