"""GraphQL SDL listed as a reference page: root fields as operations, types, and the source.

A small tokenizer and reader cover the type system part of the GraphQL
grammar (schema, type, interface, input, enum, union, scalar, directive and
their ``extend`` forms). It lists; it does not validate. Text it cannot read
is reported as a warning and the page still shows the whole source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from portal.apis.markdown import Anchors, cell, code, fence, heading, inline, prose, table
from portal.apis.model import ApiReference, DefinitionProblem, Operation, Problems
from portal.apis.tokens import Cursor, Token, Unreadable

__all__ = ["render_graphql"]

_TOKEN = re.compile(
    r"(?P<skip>[\s,\ufeff]+|#[^\n\r]*)"
    r'|(?P<string>"""(?:\\"""|(?!""")[\s\S])*"""|"(?:\\.|[^"\\\n\r])*")'
    r"|(?P<punct>\.\.\.|[!$&()\:=@\[\]{|}])"
    r"|(?P<name>[_A-Za-z][_0-9A-Za-z]*)"
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
)
_ROOTS = (
    ("query", "QUERY", "Queries"),
    ("mutation", "MUTATION", "Mutations"),
    ("subscription", "SUBSCRIPTION", "Subscriptions"),
)


@dataclass(slots=True)
class _Field:
    name: str
    type: str
    description: str
    default: str = ""
    arguments: list[_Field] = field(default_factory=list)


@dataclass(slots=True)
class _Type:
    kind: str
    name: str
    description: str
    fields: list[_Field] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # union members or interfaces


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    position, line = 0, 1
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise Unreadable(line, f"unexpected character {text[position]!r}")
        kind = match.lastgroup or "skip"
        if kind != "skip":
            tokens.append(Token(kind, match.group(0), line))
        line += match.group(0).count("\n")
        position = match.end()
    return tokens


def _string_value(token: str) -> str:
    if token.startswith('"""'):
        lines = token[3:-3].replace('\\"""', '"""').splitlines()
        indents = [len(s) - len(s.lstrip()) for s in lines[1:] if s.strip()]
        common = min(indents, default=0)
        body = [lines[0], *(s[common:] for s in lines[1:])] if lines else []
        return "\n".join(body).strip()
    return token[1:-1].replace('\\"', '"').replace("\\\\", "\\")


class _Reader(Cursor):
    def __init__(self, tokens: list[Token]) -> None:
        super().__init__(tokens)
        self.types: dict[str, _Type] = {}
        self.roots: dict[str, str] = {}

    def peek_name(self) -> bool:
        """Whether a name that is not a keyword comes next."""
        if self.index >= len(self.tokens):
            return False
        token = self.tokens[self.index]
        return token.kind == "name" and token.value not in _KEYWORDS

    def name(self) -> str:
        token = self.take()
        if token.kind != "name":
            raise Unreadable(token.line, f"expected a name, found {token.value!r}")
        return token.value

    def description(self) -> str:
        if self.peek() and self.tokens[self.index].kind == "string":
            return _string_value(self.take().value)
        return ""

    def skip_balanced(self) -> str:
        """One value: a scalar, a variable, or a bracketed list or object."""
        first = self.take()
        if first.value == "$":
            return "$" + self.name()
        if first.value not in ("[", "{", "("):
            return first.value
        closing = {"[": "]", "{": "}", "(": ")"}[first.value]
        text, depth, previous = first.value, 1, first.value
        while depth:
            token = self.take(None).value
            if token == first.value:
                depth += 1
            elif token == closing:
                depth -= 1
            if previous in "[{(" or token in "]}):" or token == "$":
                separator = ""
            else:
                separator = " " if previous in (":", "$") else ", "
            text, previous = text + separator + token, token
        return text

    def directives(self) -> None:
        while self.peek("@"):
            self.take("@")
            self.name()
            if self.peek("("):
                self.skip_balanced()

    def type_ref(self) -> str:
        if self.peek("["):
            self.take("[")
            inner = self.type_ref()
            self.take("]")
            text = f"[{inner}]"
        else:
            text = self.name()
        if self.peek("!"):
            self.take("!")
            text += "!"
        return text

    def value_definition(self) -> _Field:
        description = self.description()
        name = self.name()
        arguments = self.arguments()
        self.take(":")
        item = _Field(name, self.type_ref(), description, arguments=arguments)
        if self.peek("="):
            self.take("=")
            item.default = self.skip_balanced()
        self.directives()
        return item

    def arguments(self) -> list[_Field]:
        found: list[_Field] = []
        if self.peek("("):
            self.take("(")
            while not self.peek(")"):
                found.append(self.value_definition())
            self.take(")")
        return found

    def definition(self) -> None:
        description = self.description()
        keyword = self.name()
        extend = keyword == "extend"
        if extend:
            keyword = self.name()
        if keyword == "schema":
            self.directives()
            if self.peek("{"):
                self.take("{")
                while not self.peek("}"):
                    operation = self.name()
                    self.take(":")
                    self.roots[operation] = self.name()
                self.take("}")
            return
        if keyword == "directive":
            self.take("@")
            self.name()
            self.arguments()
            self.skip("repeatable")
            self.take("on")
            self.skip("|")
            self.name()
            while self.peek("|"):
                self.take("|")
                self.name()
            return
        if keyword not in ("type", "interface", "input", "enum", "union", "scalar"):
            raise Unreadable(self.tokens[self.index - 1].line, f"unexpected {keyword!r}")
        name = self.name()
        known = self.types.get(name)
        item = known if extend and known else _Type(keyword, name, description)
        self.types.setdefault(name, item)
        if self.peek("implements"):
            self.take()
            self.skip("&")
            item.members.append(self.name())
            while self.skip("&") or self.peek_name():  # old SDL separates by space or comma
                item.members.append(self.name())
        self.directives()
        if keyword == "union" and self.peek("="):
            self.take("=")
            self.skip("|")
            item.members.append(self.name())
            while self.peek("|"):
                self.take("|")
                item.members.append(self.name())
        elif keyword == "enum" and self.peek("{"):
            self.take("{")
            while not self.peek("}"):
                value_description = self.description()
                item.fields.append(_Field(self.name(), "", value_description))
                self.directives()
            self.take("}")
        elif keyword in ("type", "interface", "input") and self.peek("{"):
            self.take("{")
            while not self.peek("}"):
                item.fields.append(self.value_definition())
            self.take("}")


_KEYWORDS = frozenset(
    {"type", "interface", "input", "enum", "union", "scalar", "schema", "extend", "directive"}
)


def _read(text: str, problems: Problems) -> _Reader:
    reader = _Reader([])
    try:
        reader.tokens = _tokens(text)
        while reader.peek():
            reader.definition()
    except Unreadable as exc:
        message = (
            f"line {exc.line}: {exc.message}; the schema is listed only up to there "
            "and shown in full as source"
        )
        problems.add(DefinitionProblem((), message, "warning", exc.line))
    return reader


class _Page:
    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.anchors = Anchors()
        self.type_anchors = {name: self.anchors.claim("type", name) for name in reader.types}

    def type_text(self, type_ref: str) -> str:
        base = type_ref.strip("[]!")
        anchor = self.type_anchors.get(base)
        return f"[{code(type_ref)}](#{anchor})" if anchor else code(type_ref)

    def field_rows(self, fields: list[_Field], with_default: bool) -> list[list[str]]:
        rows = []
        for item in fields:
            name = item.name
            if item.arguments:
                name += "(" + ", ".join(argument.name for argument in item.arguments) + ")"
            row = [code(name), self.type_text(item.type)]
            if with_default:
                row.append(code(item.default) if item.default else "")
            rows.append([*row, cell(item.description)])
        return rows

    def operation(self, item: _Field, method: str, group: str) -> tuple[Operation, list[str]]:
        anchor = self.anchors.claim("op", f"{method}-{item.name}")
        lines = [heading(3, f"{method} {inline(item.name)}", anchor), ""]
        if item.description:
            lines += [*prose(item.description, 4), ""]
        lines += [f"**Returns:** {self.type_text(item.type)}", ""]
        if item.arguments:
            rows = self.field_rows(item.arguments, with_default=True)
            headers = ["Argument", "Type", "Default", "Description"]
            lines += ["**Arguments**", "", *table(headers, rows), ""]
        summary = item.description.strip().splitlines()[0] if item.description.strip() else ""
        found = Operation(anchor, method, item.name, summary, item.description, group, None)
        return found, lines

    def type_section(self, item: _Type, root_group: tuple[str, str] | None) -> list[str]:
        lines = [heading(3, inline(item.name), self.type_anchors[item.name]), ""]
        about = f"*{item.kind}*"
        if item.members:
            word = "of" if item.kind == "union" else "implements"
            about += f" {word} " + ", ".join(self.type_text(m) for m in item.members)
        lines += [about, ""]
        if item.description:
            lines += [*prose(item.description, 4), ""]
        if root_group is not None:
            group, anchor = root_group
            lines += [f"Its fields are the [{group.lower()}](#{anchor}) listed above.", ""]
        elif item.kind == "enum" and item.fields:
            rows = [[code(value.name), cell(value.description)] for value in item.fields]
            lines += [*table(["Value", "Description"], rows), ""]
        elif item.fields:
            with_default = item.kind == "input"
            headers = ["Field", "Type", *(["Default"] if with_default else []), "Description"]
            lines += [*table(headers, self.field_rows(item.fields, with_default)), ""]
        return lines


def render_graphql(text: str, *, title: str, description: str | None) -> ApiReference:
    """List a GraphQL schema's operations and types, then show its SDL."""
    problems = Problems()
    reader = _read(text, problems)
    page = _Page(reader)
    lines = [f"# {inline(title)}", ""]
    if description:
        lines += [*prose(description, 2), ""]
    lines += [f"GraphQL schema with {len(reader.types)} types.", ""]
    operations: list[Operation] = []
    roots: dict[str, tuple[str, str]] = {}
    for keyword, method, group in _ROOTS:
        root_name = reader.roots.get(keyword, keyword.capitalize())
        root = reader.types.get(root_name)
        if root is None or not root.fields:
            continue
        roots[root_name] = (group, group.lower())
        lines += [heading(2, group, roots[root_name][1]), ""]
        for root_field in root.fields:
            found, section = page.operation(root_field, method, group)
            operations.append(found)
            lines += section
    if reader.types:
        lines += [heading(2, "Types", "types"), ""]
        for defined in reader.types.values():
            lines += page.type_section(defined, roots.get(defined.name))
    lines += [heading(2, "Schema source", "source"), ""]
    lines += [*fence(text, "graphql"), ""]
    markdown = "\n".join(lines).rstrip("\n") + "\n"
    return ApiReference("graphql", title, None, markdown, operations, problems.items)
