"""From an API entity's ``spec.definition`` to a reference page: pick the renderer, never fail.

A definition may be text (YAML/JSON, GraphQL SDL, proto, TypeScript), an already
parsed mapping, a ``$text`` placeholder naming an outside URL that was not
fetched, or nothing at all. Each gets a page; bad content gets problems too.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from portal.apis.asyncapi import render_asyncapi
from portal.apis.graphql import render_graphql
from portal.apis.markdown import address, code, dump, inline, prose, table
from portal.apis.model import ApiReference, DefinitionProblem, Problems
from portal.apis.openapi import render_openapi
from portal.apis.proto import render_proto
from portal.apis.sources import guess_language, render_source
from portal.apis.values import as_dict, as_text, kind_of
from portal.yamlio import Limits, Locator, YamlError, load_documents

__all__ = ["locate", "render_api"]

_PLACEHOLDERS = ("$text", "$json", "$yaml")
_STRUCTURED = re.compile(r"""(?:^|[{,])\s*["']?(?:openapi|swagger|asyncapi)["']?\s*:""", re.M)
_DOCUMENT_TYPES = ("openapi", "asyncapi")
_EXPECTED = "OpenAPI or AsyncAPI document"


def locate(text: str, pointer: tuple[str | int, ...]) -> tuple[int, int] | None:
    """The 1-based line and column of ``pointer``'s key in YAML or JSON ``text``.

    When the pointer leads past what exists, the deepest existing part is used.
    """
    return Locator(text).locate(0, pointer, key=True)


def render_api(
    *,
    name: str,
    api_type: str,
    definition: object,
    title: str | None = None,
    description: str | None = None,
    remotes: object = None,
) -> ApiReference:
    """Render an API entity's definition as a Markdown reference page; never raises."""
    kind = api_type.strip().lower() if isinstance(api_type, str) else ""
    page_title = title or name
    if definition is None:
        return _missing(page_title, description, kind, remotes)
    if isinstance(definition, dict) and len(definition) == 1:
        ((key, target),) = definition.items()
        if key in _PLACEHOLDERS and isinstance(target, str):
            return _external(page_title, description, target)
    if isinstance(definition, str):
        if kind == "graphql":
            return render_graphql(definition, title=page_title, description=description)
        if kind in ("grpc", "proto", "protobuf"):
            return render_proto(definition, title=page_title, description=description)
        if kind not in _DOCUMENT_TYPES and not _STRUCTURED.search(definition):
            return render_source(definition, kind=kind, title=page_title, description=description)
        return _from_text(definition, kind, name, title, description)
    return _from_document(definition, kind, name, title, description, None, Problems())


def _from_text(
    text: str, kind: str, name: str, title: str | None, description: str | None
) -> ApiReference:
    problems = Problems()
    try:
        documents = _json(text) or load_documents(text, Limits())
    except YamlError as exc:
        where = f"line {exc.line}, column {exc.column}: " if exc.line is not None else ""
        problems.add(DefinitionProblem((), f"{where}{exc.message}", "error", exc.line, exc.column))
        note = "The definition could not be read as YAML or JSON; it is shown as written."
        return _shown(text, None, kind, title or name, description, note, problems)
    if not documents or documents[0] is None:
        problems.error((), "the definition is empty")
        note = "The definition is empty."
        return _shown(text, None, kind, title or name, description, note, problems)
    if len(documents) > 1:
        problems.warning(
            (), f"the definition holds {len(documents)} YAML documents; only the first is rendered"
        )
    return _from_document(documents[0], kind, name, title, description, text, problems)


def _json(text: str) -> list[Any]:
    """JSON text parsed as JSON: YAML 1.1 rejects some JSON, such as the escape ``\\/``."""
    if not text.lstrip().startswith(("{", "[")):
        return []
    try:
        return [json.loads(text)]
    except (ValueError, RecursionError):
        return []  # read as YAML, which reports where it goes wrong


def _from_document(
    document: object,
    kind: str,
    name: str,
    title: str | None,
    description: str | None,
    text: str | None,
    problems: Problems,
) -> ApiReference:
    if isinstance(document, dict):
        if "asyncapi" in document or (kind == "asyncapi" and "openapi" not in document):
            result = render_asyncapi(
                document, title=title, description=description, name=name, text=text
            )
        elif "openapi" in document or "swagger" in document or kind == "openapi":
            result = render_openapi(document, title=title, description=description, name=name)
        else:
            return _shown(text, document, kind, title or name, description, None, problems)
        for problem in result.problems:
            problems.add(problem)
        return replace(result, problems=problems.items)
    expected = _EXPECTED if kind in _DOCUMENT_TYPES else "definition"
    message = f"the definition is {kind_of(document)}, expected a mapping (an {expected})"
    if kind in _DOCUMENT_TYPES:
        problems.error((), message)
    else:
        problems.warning((), message)
    note = f"The definition is {kind_of(document)}, not a document; it is shown as written."
    return _shown(text, document, kind, title or name, description, note, problems)


def _shown(
    text: str | None,
    document: object,
    kind: str,
    title: str,
    description: str | None,
    note: str | None,
    problems: Problems,
) -> ApiReference:
    """The source page: the text as written, or the parsed value written out as YAML."""
    if text is None:
        text, language = dump(document), "yaml"
    else:
        language = guess_language(text, kind)
    return render_source(
        text,
        kind=kind,
        title=title,
        description=description,
        note=note,
        problems=problems,
        language=language,
    )


def _header(title: str, description: str | None) -> list[str]:
    lines = [f"# {inline(title)}", ""]
    if description:
        lines += [*prose(description, 2), ""]
    return lines


def _page(fmt: str, title: str, lines: list[str]) -> ApiReference:
    markdown = "\n".join(lines).rstrip("\n") + "\n"
    return ApiReference(fmt, title, None, markdown, [], [])


def _external(title: str, description: str | None, target: str) -> ApiReference:
    lines = _header(title, description)
    lines += [
        '!!! info "Definition not available offline"',
        "",
        f"    The definition of this API lives at {address(target)}. It was not fetched when "
        "this site was built, so its reference is not shown here.",
        "",
    ]
    return _page("external", title, lines)


def _missing(title: str, description: str | None, kind: str, remotes: object) -> ApiReference:
    lines = _header(title, description)
    what = f"This {inline(kind)} API" if kind else "This API"
    lines += [
        '!!! note "No definition"',
        "",
        f"    {what} has no definition in the catalog, so there is no reference to show.",
        "",
    ]
    rows = []
    for remote in remotes if isinstance(remotes, list) else []:
        entry = as_dict(remote)
        url = as_text(entry.get("url"))
        if url:
            rows.append([code(as_text(entry.get("type")) or "?"), address(url)])
    if rows:
        lines += ["It is reached at:", "", *table(["Transport", "URL"], rows), ""]
    return _page("missing", title, lines)
