"""What an API reference is made of: its operations, its page, and the problems found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ApiReference", "DefinitionProblem", "Operation", "Pointer", "Problems"]

Pointer = tuple[str | int, ...]
Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of an API, rendered as its own section of the page."""

    anchor: str
    method: str
    path: str
    summary: str
    description: str
    tag: str
    operation_id: str | None


@dataclass(frozen=True, slots=True)
class DefinitionProblem:
    """Something wrong at one place in a definition.

    ``pointer`` is the key path into the parsed definition; ``line`` and
    ``column`` (1-based, within the definition text) are set only when the
    position is known without a pointer, as for YAML syntax errors.
    """

    pointer: Pointer
    message: str
    severity: Severity
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class ApiReference:
    """An API definition turned into one Markdown reference page."""

    format: str
    title: str
    version: str | None
    markdown: str
    operations: list[Operation]
    problems: list[DefinitionProblem]


@dataclass(slots=True)
class Problems:
    """Problems of one definition in the order found, each reported once."""

    items: list[DefinitionProblem] = field(default_factory=list)
    _seen: set[tuple[Pointer, str]] = field(default_factory=set)

    def add(self, problem: DefinitionProblem) -> None:
        key = (problem.pointer, problem.message)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(problem)

    def error(self, pointer: Pointer, message: str) -> None:
        self.add(DefinitionProblem(pointer, message, "error"))

    def warning(self, pointer: Pointer, message: str) -> None:
        self.add(DefinitionProblem(pointer, message, "warning"))
