"""What the small GraphQL and protobuf readers share: a token, and the error they raise."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Token", "Unreadable"]


class Unreadable(Exception):
    """Source text the reader cannot follow; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(slots=True)
class Token:
    kind: str
    value: str
    line: int
    doc: str = ""  # a comment just above it, where the language documents that way
