"""Definitions the portal does not render as a reference, shown as highlighted source.

tRPC routers are TypeScript: their procedures are listed by a light pattern
match (a name, a ``…Procedure`` builder, then ``.query``/``.mutation``/
``.subscription``), so they are searchable; everything else is only shown.
"""

from __future__ import annotations

import json
import re

from portal.apis.markdown import Anchors, code, fence, heading, inline, prose
from portal.apis.model import ApiReference, Operation, Problems

__all__ = ["guess_language", "render_source"]

_LANGUAGES = {
    "trpc": "typescript",
    "typescript": "typescript",
    "graphql": "graphql",
    "grpc": "protobuf",
    "proto": "protobuf",
    "protobuf": "protobuf",
    "avro": "json",
    "wsdl": "xml",
    "raml": "yaml",
}
_PROCEDURE = re.compile(r"\b([A-Za-z_$][\w$]*)\s*:\s*[A-Za-z_$][\w$]*[Pp]rocedure\b")
_KIND = re.compile(r"\.(query|mutation|subscription)\s*\(")


def guess_language(text: str, api_type: str) -> str:
    """A Pygments language name for highlighting ``text``."""
    known = _LANGUAGES.get(api_type)
    if known is not None:
        return known
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            json.loads(stripped)
            return "json"
        except ValueError:
            pass
    if stripped.startswith("<"):
        return "xml"
    if re.search(r"^[\w\"'-]+\s*:(\s|$)", stripped, re.M):
        return "yaml"
    return "text"


def _procedures(text: str) -> list[tuple[str, str]]:
    matches = list(_PROCEDURE.finditer(text))
    found = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        kind = _KIND.search(text, match.end(), end)
        if kind is not None:
            found.append((match.group(1), kind.group(1).upper()))
    return found


def render_source(
    text: str,
    *,
    kind: str,
    title: str,
    description: str | None,
    note: str | None = None,
    problems: Problems | None = None,
    language: str | None = None,
) -> ApiReference:
    """A page showing the definition as written, with a note on why it is not rendered."""
    problems = problems or Problems()
    anchors = Anchors()
    lines = [f"# {inline(title)}", ""]
    if description:
        lines += [*prose(description, 2), ""]
    procedures = _procedures(text) if kind == "trpc" else []
    if note is None and kind == "trpc":
        note = "A tRPC router is TypeScript code: its procedures are listed as found in the code."
    elif note is None:
        shown = f"{inline(kind)} definitions are" if kind else "This definition is"
        note = f"{shown} not rendered as a reference; the definition is shown as written."
    if any(problem.severity == "error" for problem in problems.items):
        lines += ['!!! warning "Definition not rendered"', "", f"    {note}", ""]
    else:
        lines += ['!!! note "Shown as source"', "", f"    {note}", ""]
    for problem in problems.items:
        lines += [f"- {problem.severity}: {inline(problem.message)}"]
    if problems.items:
        lines.append("")
    operations = []
    if procedures:
        lines += [heading(2, "Procedures", "procedures"), ""]
        for name, method in procedures:
            anchor = anchors.claim("op", f"{method}-{name}")
            lines += [heading(3, f"{method} {inline(name)}", anchor), ""]
            lines += [f"tRPC procedure {code(name)} ({method.lower()}).", ""]
            operations.append(Operation(anchor, method, name, "", "", "Procedures", None))
    lines += [heading(2, "Source", "source"), ""]
    lines += [*fence(text, language or guess_language(text, kind)), ""]
    markdown = "\n".join(lines).rstrip("\n") + "\n"
    fmt = "trpc" if kind == "trpc" else "unknown"
    return ApiReference(fmt, title, None, markdown, operations, problems.items)
