"""What the small GraphQL and protobuf readers share: a token, and the error they raise."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Cursor", "Token", "Unreadable"]


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


class Cursor:
    """Walks a token list: look at the next token, take it, or skip it."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self, value: str | None = None) -> bool:
        if self.index >= len(self.tokens):
            return False
        return value is None or self.tokens[self.index].value == value

    def skip(self, value: str) -> bool:
        """Take the next token if it is ``value``."""
        if self.peek(value):
            self.index += 1
            return True
        return False

    def take(self, expected: str | None = None) -> Token:
        if self.index >= len(self.tokens):
            line = self.tokens[-1].line if self.tokens else 1
            wanted = repr(expected) if expected else "more"
            raise Unreadable(line, f"the text ends where {wanted} was expected")
        token = self.tokens[self.index]
        if expected is not None and token.value != expected:
            raise Unreadable(token.line, f"expected {expected!r}, found {token.value!r}")
        self.index += 1
        return token
