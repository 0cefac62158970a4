"""gRPC ``.proto`` source listed as a reference page: services and methods, messages, enums.

A tokenizer and a forgiving reader cover the declarations a reader looks for
(service, rpc, message, enum, oneof, map fields) in proto2, proto3 and editions
files; options, imports and extensions are skipped. The comment block just above
a declaration is taken as its description. Unreadable text is a warning; the
page still shows the whole source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from portal.apis.markdown import Anchors, cell, code, fence, heading, inline, prose, table
from portal.apis.model import ApiReference, DefinitionProblem, Operation, Problems
from portal.apis.tokens import Cursor, Token, Unreadable

__all__ = ["render_proto"]

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<comment>//[^\n]*|/\*[\s\S]*?\*/)"
    r"|(?P<string>\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*')"
    r"|(?P<name>\.?[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)"
    r"|(?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?))"
    r"|(?P<punct>[{}()\[\];=<>,:./+-])"
)
_LABELS = frozenset({"optional", "required", "repeated"})


@dataclass(slots=True)
class _Method:
    name: str
    request: str
    response: str
    client_streaming: bool
    server_streaming: bool
    doc: str


@dataclass(slots=True)
class _Service:
    name: str
    doc: str
    methods: list[_Method] = field(default_factory=list)


@dataclass(slots=True)
class _Declaration:
    kind: str  # "message" or "enum"
    name: str
    doc: str
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)  # name, type, number, doc


def _comment_text(comment: str) -> str:
    if comment.startswith("//"):
        return comment[2:].strip()
    body = comment[2:-2].strip().splitlines()
    return "\n".join(line.strip().lstrip("*").strip() for line in body)


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    position, line = 0, 1
    pending: list[str] = []
    pending_end = 0
    last_line = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise Unreadable(line, f"unexpected character {text[position]!r}")
        kind, value = match.lastgroup or "space", match.group(0)
        if kind == "comment":
            if line > last_line:  # a comment on its own line, not after a statement
                if pending and line > pending_end + 1:
                    pending = []
                pending.append(_comment_text(value))
                pending_end = line + value.count("\n")
        elif kind != "space":
            doc = "\n".join(pending) if pending and pending_end >= line - 1 else ""
            tokens.append(
                Token(kind, re.sub(r"\s+", "", value) if kind == "name" else value, line, doc)
            )
            pending, last_line = [], line + value.count("\n")
        line += value.count("\n")
        position = match.end()
    return tokens


class _Reader(Cursor):
    def __init__(self, tokens: list[Token]) -> None:
        super().__init__(tokens)
        self.package = ""
        self.syntax = ""
        self.services: list[_Service] = []
        self.declarations: list[_Declaration] = []

    def skip_statement(self) -> None:
        """Up to and including the ``;`` ending a statement, or a whole ``{…}`` block."""
        depth = 0
        while True:
            token = self.take()
            if token.value in ("{", "[", "("):
                depth += 1
            elif token.value in ("}", "]", ")"):
                depth -= 1
                if depth == 0 and token.value == "}":
                    return
            elif token.value == ";" and depth == 0:
                return

    def file(self) -> None:
        while self.peek():
            token = self.tokens[self.index]
            if token.value in ("syntax", "edition"):
                self.take()
                self.take("=")
                value = self.take().value.strip("\"'")
                self.syntax = value if token.value == "syntax" else f"edition {value}"
                self.take(";")
            elif token.value == "package":
                self.take()
                self.package = self.take().value
                self.take(";")
            elif token.value == "service":
                self.service()
            elif token.value in ("message", "enum"):
                self.declaration("")
            else:
                self.skip_statement()  # import, option, extend, stray ';'

    def service(self) -> None:
        start = self.take("service")
        service = _Service(self.take().value, start.doc)
        self.services.append(service)
        self.take("{")
        while not self.skip("}"):
            if not self.peek("rpc"):
                self.skip_statement()
                continue
            rpc = self.take("rpc")
            name = self.take().value
            self.take("(")
            client = self.skip("stream")
            request = self.take().value
            self.take(")")
            self.take("returns")
            self.take("(")
            server = self.skip("stream")
            response = self.take().value
            self.take(")")
            if not self.skip(";"):
                self.skip_statement()
            service.methods.append(_Method(name, request, response, client, server, rpc.doc))

    def declaration(self, outer: str) -> None:
        start = self.take()
        name = f"{outer}{self.take().value}"
        item = _Declaration(start.value, name, start.doc)
        self.declarations.append(item)
        self.take("{")
        while not self.skip("}"):
            token = self.tokens[self.index] if self.peek() else self.take()
            if token.value in ("message", "enum"):
                self.declaration(f"{name}.")
            elif token.value in ("option", "reserved", "extensions", "extend", ";"):
                self.skip_statement()
            elif token.value == "oneof":
                self.take()
                self.take()
                self.take("{")
                while not self.skip("}"):
                    if self.peek("option"):
                        self.skip_statement()
                    else:
                        self.field(item)
            elif item.kind == "enum":
                self.take()
                self.take("=")
                number = self.take().value
                item.rows.append((token.value, "", number, token.doc))
                if not self.skip(";"):
                    self.skip_statement()  # value options: [deprecated = true];
            else:
                self.field(item)

    def field(self, item: _Declaration) -> None:
        first = self.take()
        doc = first.doc
        kind = first.value
        if kind in _LABELS:
            kind = f"{kind} {self.take().value}"
        if kind == "map":
            self.take("<")
            key = self.take().value
            self.take(",")
            value = self.take().value
            self.take(">")
            kind = f"map<{key}, {value}>"
        if kind.endswith("group"):  # proto2 groups: name = number { fields }
            self.skip_statement()
            return
        name = self.take().value
        self.take("=")
        number = self.take().value
        if not self.skip(";"):
            self.skip_statement()
        item.rows.append((name, kind, number, doc))


def _read(text: str, problems: Problems) -> _Reader:
    reader = _Reader([])
    try:
        reader.tokens = _tokens(text)
        reader.file()
    except Unreadable as exc:
        message = (
            f"line {exc.line}: {exc.message}; the file is listed only up to there "
            "and shown in full as source"
        )
        problems.add(DefinitionProblem((), message, "warning", exc.line))
    return reader


def render_proto(text: str, *, title: str, description: str | None) -> ApiReference:
    """List a proto file's services, methods, messages and enums, then show its source."""
    problems = Problems()
    reader = _read(text, problems)
    anchors = Anchors()
    targets = {d.name: anchors.claim(d.kind, d.name) for d in reader.declarations}

    def type_text(name: str) -> str:
        label, _, rest = name.partition(" ")
        if label in _LABELS:  # "repeated Foo"
            return f"{label} {type_text(rest)}"
        short = name.lstrip(".").removeprefix(f"{reader.package}.")
        anchor = targets.get(short) or next(
            (a for full, a in targets.items() if full.endswith(f".{short}")), None
        )
        return f"[{code(name)}](#{anchor})" if anchor else code(name)

    lines = [f"# {inline(title)}", ""]
    if description:
        lines += [*prose(description, 2), ""]
    facts = [f"Package {code(reader.package)}"] if reader.package else []
    facts += [code(reader.syntax)] if reader.syntax else []
    if facts:
        lines += [" · ".join(facts), ""]
    operations: list[Operation] = []
    for service in reader.services:
        lines += [heading(2, inline(service.name), anchors.claim("service", service.name)), ""]
        if service.doc:
            lines += [*prose(service.doc, 3), ""]
        for method in service.methods:
            path = f"{service.name}/{method.name}"
            anchor = anchors.claim("op", f"{service.name}-{method.name}")
            lines += [heading(3, f"RPC {inline(path)}", anchor), ""]
            if method.doc:
                lines += [*prose(method.doc, 4), ""]
            request = ("stream " if method.client_streaming else "") + type_text(method.request)
            response = ("stream " if method.server_streaming else "") + type_text(method.response)
            lines += [f"**Request:** {request} → **Response:** {response}", ""]
            streaming = [
                label
                for flag, label in (
                    (method.client_streaming, "client streaming"),
                    (method.server_streaming, "server streaming"),
                )
                if flag
            ]
            if streaming:
                lines += [f"*{' and '.join(streaming)}*", ""]
            summary = method.doc.splitlines()[0] if method.doc else ""
            operations.append(
                Operation(anchor, "RPC", path, summary, method.doc, service.name, None)
            )
    for kind, group in (("message", "Messages"), ("enum", "Enums")):
        items = [d for d in reader.declarations if d.kind == kind]
        if not items:
            continue
        lines += [heading(2, group, group.lower()), ""]
        for item in items:
            lines += [heading(3, inline(item.name), targets[item.name]), ""]
            if item.doc:
                lines += [*prose(item.doc, 4), ""]
            if kind == "enum" and item.rows:
                rows = [[code(n), code(num), cell(doc)] for n, _, num, doc in item.rows]
                lines += [*table(["Value", "Number", "Description"], rows), ""]
            elif item.rows:
                rows = [
                    [code(n), type_text(t), code(num), cell(doc)] for n, t, num, doc in item.rows
                ]
                lines += [*table(["Field", "Type", "Number", "Description"], rows), ""]
    lines += [heading(2, "Source", "source"), ""]
    lines += [*fence(text, "protobuf"), ""]
    markdown = "\n".join(lines).rstrip("\n") + "\n"
    return ApiReference("grpc", title, None, markdown, operations, problems.items)
