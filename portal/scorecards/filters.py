"""``appliesTo``: which entities a scorecard, or one of its rules, is about.

Values of one key are alternatives (any may match), keys must all match, as
in the catalog browser's filters. ``kind``, ``type``, ``lifecycle`` and
``tags`` compare without case; ``owner`` and ``system`` are entity refs
compared canonically; ``annotations`` and ``labels`` map a key to the value
(or values) it must have, or to ``true`` when any value will do.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from portal.catalog.model import Entity
from portal.catalog.refs import EntityRef, RefError, parse_ref
from portal.scorecards.paths import describe

__all__ = ["FILTER_KEYS", "Filter", "FilterError", "compile_filter"]

FILTER_KEYS = ("kind", "type", "lifecycle", "tags", "system", "owner", "annotations", "labels")

Predicate = Callable[[Entity], bool]


class FilterError(ValueError):
    """A bad ``appliesTo``: ``problems`` holds each (path below it, message), all at once."""

    def __init__(self, keys: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.problems: list[tuple[tuple[str | int, ...], str]] = [(keys, message)]


@dataclass(frozen=True, slots=True)
class Filter:
    """A compiled ``appliesTo``: ``matches(entity)``; ``kinds`` lets callers skip other kinds."""

    matches: Predicate
    description: str
    kinds: frozenset[str] | None


def compile_filter(spec: object) -> Filter:
    """Compile an ``appliesTo`` mapping; raise :class:`FilterError` naming the key at fault."""
    if spec is None:
        return Filter(lambda entity: True, "every entity", None)
    if not isinstance(spec, Mapping):
        raise FilterError(
            (), f"expected a mapping of {', '.join(FILTER_KEYS)}; got {describe(spec)}"
        )
    predicates: list[Predicate] = []
    parts: list[str] = []
    kinds: frozenset[str] | None = None
    errors: list[FilterError] = []
    for key, value in spec.items():
        try:
            predicate, part = _one(str(key), value)
        except FilterError as exc:
            errors.append(exc)
            continue
        predicates.append(predicate)
        parts.append(part)
        if key == "kind":
            kinds = frozenset(v.lower() for v in _texts(key, value))
    if errors:
        first = errors[0]
        first.problems = [problem for error in errors for problem in error.problems]
        raise first
    description = "; ".join(parts) or "every entity"
    if len(predicates) == 1:
        return Filter(predicates[0], description, kinds)
    return Filter(lambda entity: all(p(entity) for p in predicates), description, kinds)


def _one(key: str, value: object) -> tuple[Predicate, str]:
    """One key's predicate and how it reads."""
    if key not in FILTER_KEYS:
        close = difflib.get_close_matches(key, FILTER_KEYS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise FilterError((key,), f"unknown key {key!r} ({hint}expected {', '.join(FILTER_KEYS)})")
    if key in ("annotations", "labels"):
        return _mapping(key, value), f"{key} {_show_mapping(value)}"
    values = _texts(key, value)
    part = f"{key} {' or '.join(values)}"
    if key in ("owner", "system"):
        return _refs(key, values), part
    return _text_predicate(key, frozenset(v.lower() for v in values)), part


def _text_predicate(key: str, wanted: frozenset[str]) -> Predicate:
    if key == "kind":
        return lambda entity: entity.ref.kind in wanted
    if key == "tags":
        return lambda entity: _any_tag(entity, wanted)
    return lambda entity: _spec_text(entity, key) in wanted


def _texts(key: str, value: object) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise FilterError((key,), "expected a value or a list of values, got an empty list")
    for index, item in enumerate(values):
        if not isinstance(item, str) or not item:
            at: tuple[str | int, ...] = (key, index) if isinstance(value, list) else (key,)
            raise FilterError(at, f"expected text, got {describe(item)}")
    return [str(v) for v in values]


def _refs(key: str, values: list[str]) -> Predicate:
    default_kind = "group" if key == "owner" else "system"
    wanted: set[EntityRef] = set()
    for value in values:
        try:
            wanted.add(parse_ref(value, default_kind=default_kind))
        except RefError as exc:
            raise FilterError(
                (key,), f"{value!r} is not a valid entity ref: it {exc.reason}"
            ) from None
    return lambda entity: any(f == key and ref in wanted for f, _, ref in entity.spec_refs)


def _mapping(key: str, value: object) -> Predicate:
    if not isinstance(value, Mapping) or not value:
        raise FilterError(
            (key,), f"expected a mapping of {key[:-1]} keys to values, got {describe(value)}"
        )
    wanted: dict[str, frozenset[str] | None] = {}
    for name, accepted in value.items():
        if accepted is True:
            wanted[str(name)] = None
        else:
            wanted[str(name)] = frozenset(_texts_at((key, str(name)), accepted))

    def matches(entity: Entity) -> bool:
        values = entity.metadata.get(key)
        if type(values) is not dict:
            return False
        for name, accepted in wanted.items():
            found = values.get(name)
            if found is None or (accepted is not None and found not in accepted):
                return False
        return True

    return matches


def _texts_at(at: tuple[str | int, ...], value: object) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise FilterError(at, f"expected text, a list of texts or true, got {describe(value)}")
    return [str(v) for v in values]


def _show_mapping(value: Any) -> str:
    return ", ".join(f"{k}={'any' if v is True else v}" for k, v in value.items())


def _any_tag(entity: Entity, wanted: frozenset[str]) -> bool:
    tags = entity.metadata.get("tags")
    return type(tags) is list and any(tag in wanted for tag in tags)


def _spec_text(entity: Entity, key: str) -> str | None:
    value = entity.spec.get(key)
    return value.lower() if isinstance(value, str) else None
