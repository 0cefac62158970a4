"""Descriptor paths such as ``metadata.annotations["portal.dev/runbook"]``: parsed once, read fast.

A path names a value inside an entity's descriptor. It starts at one of the
descriptor's top-level keys and steps through mappings by ``.name`` or
``["any key"]`` and through lists by ``[index]``. Parsing happens when a
scorecard is loaded; reading a path on an entity is a few dictionary lookups.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portal.catalog.model import Entity

__all__ = ["MISSING", "ROOTS", "DescriptorPath", "PathError", "parse_path"]

ROOTS = ("apiVersion", "kind", "metadata", "spec")
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")


class _Missing:
    """The value of a path that leads nowhere (distinct from an explicit null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class PathError(ValueError):
    """A path that cannot be parsed; ``offset`` is the 0-based character where it went wrong."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


Step = str | int


@dataclass(frozen=True, slots=True)
class DescriptorPath:
    """A parsed path: its steps, and how people read it in messages."""

    steps: tuple[Step, ...]

    def __str__(self) -> str:
        out = str(self.steps[0])
        for step in self.steps[1:]:
            if isinstance(step, int):
                out += f"[{step}]"
            elif _NAME.fullmatch(step) and "-" not in step:
                out += f".{step}"
            else:
                out += f"[{step!r}]"
        return out

    def getter(self) -> Callable[[Entity], Any]:
        """A function reading this path on an entity; :data:`MISSING` when it leads nowhere."""
        root, rest = self.steps[0], self.steps[1:]
        if root == "apiVersion":
            return lambda entity: entity.api_version
        if root == "kind":
            return lambda entity: entity.kind
        top = "metadata" if root == "metadata" else "spec"
        if len(rest) == 0:
            return lambda entity: getattr(entity, top)
        if len(rest) == 1 and isinstance(rest[0], str):
            key = rest[0]
            # The commonest paths (metadata.title, spec.owner) read without a loop.
            if top == "metadata":
                return lambda entity: entity.metadata.get(key, MISSING)
            return lambda entity: entity.spec.get(key, MISSING)
        if len(rest) == 2 and isinstance(rest[0], str) and isinstance(rest[1], str):
            first, second = rest

            def two(entity: Entity) -> Any:
                value = getattr(entity, top).get(first, MISSING)
                return value.get(second, MISSING) if type(value) is dict else MISSING

            return two

        def walk(entity: Entity) -> Any:
            value: Any = getattr(entity, top)
            for step in rest:
                if type(value) is dict and isinstance(step, str):
                    value = value.get(step, MISSING)
                elif type(value) is list and isinstance(step, int) and -len(value) <= step:
                    value = value[step] if step < len(value) else MISSING
                else:
                    return MISSING
            return value

        return walk

    def explain_missing(self, entity: Entity) -> str:
        """Why the path leads nowhere on ``entity``: the first step absent or not a container."""
        return self.explainer()(entity)

    def explainer(self) -> Callable[[Entity], str]:
        """:meth:`explain_missing` with every message prefix worked out once, for checks."""
        names = [str(DescriptorPath(self.steps[: i + 1])) for i in range(len(self.steps))]
        start = DescriptorPath(self.steps[:1]).getter()
        steps = self.steps

        def explain(entity: Entity) -> str:
            value: Any = start(entity)
            for index in range(1, len(steps)):
                step = steps[index]
                if type(value) is dict and isinstance(step, str):
                    if step not in value:
                        return f"{names[index]} is not set"
                    value = value[step]
                elif type(value) is list and isinstance(step, int):
                    if not -len(value) <= step < len(value):
                        count = len(value)
                        return (
                            f"{names[index - 1]} has {count} item{'s' * (count != 1)}, no [{step}]"
                        )
                    value = value[step]
                elif value is None:
                    return f"{names[index - 1]} is empty (null)"
                else:
                    wanted = "a list" if isinstance(step, int) else "a mapping"
                    return f"{names[index - 1]} is {describe(value)}, not {wanted}"
            return f"{names[-1]} is not set"

        return explain


def describe(value: Any) -> str:
    """A value as messages show it: short, quoted text or the name of its type."""
    if value is MISSING:
        return "missing"
    if value is None:
        return "not set (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:56] + "...'"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def parse_path(text: object) -> DescriptorPath:
    """Parse ``text``; raise :class:`PathError` saying where and what would be valid."""
    if not isinstance(text, str) or not text.strip():
        raise PathError(
            'expected a descriptor path, e.g. metadata.annotations["portal.quantum.dev/runbook"]',
            0,
        )
    parser = PathParser(text)
    path = parser.parse()
    if parser.pos != len(text):
        raise PathError(f"unexpected {text[parser.pos]!r} after the path", parser.pos)
    return path


class PathParser:
    """Reads a path from the start of ``text``; :mod:`expressions` reuses it inside expressions."""

    def __init__(self, text: str, pos: int = 0) -> None:
        self.text = text
        self.pos = pos

    def parse(self) -> DescriptorPath:
        start = self.pos
        root = self._name()
        if root not in ROOTS:
            raise PathError(
                f"{root!r} is not a top-level key of a descriptor (expected {', '.join(ROOTS)})",
                start,
            )
        steps: list[Step] = [root]
        text = self.text
        while self.pos < len(text) and text[self.pos] in ".[":
            if text[self.pos] == ".":
                self.pos += 1
                steps.append(self._name())
            else:
                steps.append(self._index())
        if root in ("apiVersion", "kind") and len(steps) > 1:
            raise PathError(f"{root} is text: nothing can follow it", start + len(root))
        return DescriptorPath(tuple(steps))

    def _name(self) -> str:
        match = _NAME.match(self.text, self.pos)
        if match is None:
            got = repr(self.text[self.pos]) if self.pos < len(self.text) else "the end"
            raise PathError(
                f'expected a key name, got {got} (write keys with other characters as ["key"])',
                self.pos,
            )
        self.pos = match.end()
        return match.group()

    def _index(self) -> Step:
        text, open_at = self.text, self.pos
        self.pos += 1
        if self.pos < len(text) and text[self.pos] in "\"'":
            quote = text[self.pos]
            end = text.find(quote, self.pos + 1)
            if end == -1:
                raise PathError(f"the key opened with {quote} is not closed", self.pos)
            key: Step = text[self.pos + 1 : end]
            self.pos = end + 1
        else:
            match = re.compile(r"-?[0-9]+").match(text, self.pos)
            if match is None:
                raise PathError(
                    'expected a quoted key ["key"] or a list index [0] after "["', self.pos
                )
            key = int(match.group())
            self.pos = match.end()
        if self.pos >= len(text) or text[self.pos] != "]":
            raise PathError(f'expected "]" to close the "[" at character {open_at + 1}', self.pos)
        self.pos += 1
        return key
