"""The expression language's syntax: a tokenizer and a recursive-descent parser into a tree.

Nothing here evaluates anything; :mod:`portal.scorecards.expressions` compiles
the tree into closures. The grammar, loosest binding first::

    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := primary [("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") primary]
    primary := number | text | true | false | null | list | call | path | "(" or ")"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from portal.scorecards.paths import DescriptorPath, PathError, PathParser

__all__ = [
    "KEYWORDS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "BoolOp",
    "Call",
    "Compare",
    "ExpressionError",
    "ListNode",
    "Literal",
    "Node",
    "Not",
    "PathNode",
    "parse",
]

MAX_LENGTH = 2000
MAX_DEPTH = 32
KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>-?[0-9]+(?:\.[0-9]+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


class ExpressionError(ValueError):
    """An expression that cannot be compiled; ``offset`` is the 0-based character at fault."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# -- syntax tree ----------------------------------------------------------------


@dataclass(slots=True)
class Node:
    start: int
    end: int


@dataclass(slots=True)
class Literal(Node):
    value: Any


@dataclass(slots=True)
class ListNode(Node):
    items: list[Node]


@dataclass(slots=True)
class PathNode(Node):
    path: DescriptorPath


@dataclass(slots=True)
class Call(Node):
    name: str
    args: list[Node]


@dataclass(slots=True)
class Not(Node):
    operand: Node


@dataclass(slots=True)
class BoolOp(Node):
    op: str  # "and" or "or"
    operands: list[Node]


@dataclass(slots=True)
class Compare(Node):
    op: str
    left: Node
    right: Node


# -- parsing --------------------------------------------------------------------


@dataclass(slots=True)
class Token:
    kind: str  # num, name, str, op, end
    text: str
    start: int
    end: int


class Parser:
    def __init__(self, text: str, functions: Collection[str]) -> None:
        self.text = text
        self.functions = functions
        self.pos = 0
        self.depth = 0

    def token(self) -> Token:
        match = _TOKEN.match(self.text, self.pos)
        if match is None or match.lastgroup is None:
            rest = self.text[self.pos :]
            if not rest.strip():
                return Token("end", "", len(self.text), len(self.text))
            at = self.pos + len(rest) - len(rest.lstrip())
            char = self.text[at]
            if char in "\"'":
                raise ExpressionError(f"the text opened with {char} is not closed", at)
            if char == "=":
                raise ExpressionError("use == to compare (a single = assigns nothing)", at)
            raise ExpressionError(f"unexpected {char!r}", at)
        return Token(
            match.lastgroup, match.group(match.lastgroup), match.start(match.lastgroup), match.end()
        )

    def take(self) -> Token:
        token = self.token()
        self.pos = token.end
        return token

    def expect(self, text: str, after: str) -> Token:
        token = self.token()
        if token.text != text or token.kind not in ("op", "name"):
            got = repr(token.text) if token.kind != "end" else "the end"
            raise ExpressionError(f"expected {text!r} {after}, got {got}", token.start)
        return self.take()

    def parse(self) -> Node:
        node = self.or_()
        token = self.token()
        if token.kind != "end":
            raise ExpressionError(
                f"unexpected {token.text!r} (combine conditions with and/or)", token.start
            )
        return node

    def _nest(self, at: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"nests more than {MAX_DEPTH} levels deep", at)

    def or_(self) -> Node:
        return self._chain("or", self.and_)

    def and_(self) -> Node:
        return self._chain("and", self.not_)

    def _chain(self, op: str, operand: Callable[[], Node]) -> Node:
        first = operand()
        operands = [first]
        while (token := self.token()).kind == "name" and token.text == op:
            self.take()
            operands.append(operand())
        if len(operands) == 1:
            return first
        return BoolOp(first.start, operands[-1].end, op, operands)

    def not_(self) -> Node:
        token = self.token()
        if token.kind == "name" and token.text == "not":
            self.take()
            self._nest(token.start)
            operand = self.not_()
            self.depth -= 1
            return Not(token.start, operand.end, operand)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.primary()
        token = self.token()
        op: str | None = None
        if token.kind == "op" and token.text in _COMPARISONS:
            op = token.text
            self.take()
        elif token.kind == "name" and token.text == "in":
            op = "in"
            self.take()
        elif token.kind == "name" and token.text == "not":
            save = self.pos
            self.take()
            following = self.token()
            if following.kind == "name" and following.text == "in":
                self.take()
                op = "not in"
            else:
                self.pos = save
        if op is None:
            return left
        right = self.primary()
        after = self.token()
        if after.kind == "op" and after.text in _COMPARISONS:
            raise ExpressionError("comparisons do not chain: write a < b and b < c", after.start)
        return Compare(left.start, right.end, op, left, right)

    def primary(self) -> Node:
        token = self.token()
        if token.kind == "num":
            self.take()
            value: Any = float(token.text) if "." in token.text else int(token.text)
            return Literal(token.start, token.end, value)
        if token.kind == "str":
            self.take()
            return Literal(token.start, token.end, unquote(token.text))
        if token.kind == "op" and token.text == "(":
            self.take()
            self._nest(token.start)
            inner = self.or_()
            close = self.expect(")", f"to close the '(' at character {token.start + 1}")
            self.depth -= 1
            inner.start, inner.end = token.start, close.end  # messages quote the parentheses
            return inner
        if token.kind == "op" and token.text == "[":
            return self.list_(token)
        if token.kind == "name":
            return self.name(token)
        got = "the end" if token.kind == "end" else repr(token.text)
        raise ExpressionError(f"expected a value, a path or a function, got {got}", token.start)

    def list_(self, opening: Token) -> Node:
        self.take()
        self._nest(opening.start)
        items: list[Node] = []
        if self.token().text != "]":
            items.append(self.or_())
            while self.token().text == ",":
                self.take()
                items.append(self.or_())
        close = self.expect("]", f"to close the list at character {opening.start + 1}")
        self.depth -= 1
        return ListNode(opening.start, close.end, items)

    def name(self, token: Token) -> Node:
        word = token.text
        if word in ("true", "false", "null"):
            self.take()
            return Literal(token.start, token.end, {"true": True, "false": False}.get(word))
        if word in KEYWORDS:
            raise ExpressionError(f"expected a value before {word!r}", token.start)
        rest = self.text[token.end :]
        if rest.lstrip().startswith("("):
            self.pos = token.end
            return self.call(token, self.token())
        if word not in ("apiVersion", "kind", "metadata", "spec"):
            known = ", ".join(sorted(self.functions))
            raise ExpressionError(
                f"unknown name {word!r}: expected a descriptor path (starting with metadata, "
                f"spec, kind or apiVersion) or a function ({known})",
                token.start,
            )
        parser = PathParser(self.text, token.start)
        try:
            path = parser.parse()
        except PathError as exc:
            raise ExpressionError(exc.message, exc.offset) from None
        self.pos = parser.pos
        return PathNode(token.start, parser.pos, path)

    def call(self, name: Token, opening: Token) -> Node:
        if name.text not in self.functions:
            known = ", ".join(sorted(self.functions))
            raise ExpressionError(f"unknown function {name.text!r} (known: {known})", name.start)
        self.pos = opening.end
        self._nest(opening.start)
        args: list[Node] = []
        if self.token().text != ")":
            args.append(self.or_())
            while self.token().text == ",":
                self.take()
                args.append(self.or_())
        close = self.expect(")", f"to close the call of {name.text}()")
        self.depth -= 1
        return Call(name.start, close.end, name.text, args)


def unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def parse(text: str, functions: Collection[str]) -> Node:
    """The tree of ``text``; raise :class:`ExpressionError` with the offset at fault."""
    return Parser(text, functions).parse()
