"""OpenAPI 2.0 (Swagger), 3.0, 3.1 and 3.2 documents rendered as one reference page.

The page has the API's info, its servers per environment, its security schemes,
its operations grouped by tag (each its own h3 with an anchor), its webhooks and
its named schemas. Problems are collected on the way; whatever can be rendered is.
"""

from __future__ import annotations

import re
from typing import Any

from portal.apis.context import METHODS, Context, OperationInfo
from portal.apis.markdown import Anchors, heading, inline, link, prose, slug
from portal.apis.model import ApiReference, Operation, Pointer, Problems
from portal.apis.operations import render_operation, security_line
from portal.apis.overview import check_info, info_lines, security_section, servers_section
from portal.apis.refs import Resolver, check_refs
from portal.apis.schemas import SchemaRenderer
from portal.apis.values import as_dict, as_list, as_text, named

__all__ = ["render_openapi"]

_VERSION = re.compile(r"^3\.(\d+)(?:\.\d+)?(?:-[\w.]+)?$")
_DEFAULT_TAG = "default"
_WEBHOOKS = "Webhooks"


def _version(doc: dict[str, Any], problems: Problems) -> str:
    """Which rules apply: "2.0", "3.0", "3.1" or "3.2"."""
    if "swagger" in doc:
        value = doc["swagger"]
        if value == "2.0":
            return "2.0"
        if value == 2.0 and not isinstance(value, bool):
            problems.warning(("swagger",), "swagger: 2.0 is read as a number; quote it: '2.0'")
        else:
            problems.error(("swagger",), f"swagger: {value!r} is not supported (expected '2.0')")
        return "2.0"
    value = doc.get("openapi")
    if value is None:
        problems.error(
            (),
            "no 'openapi' or 'swagger' field saying which OpenAPI version this is "
            "(e.g. openapi: 3.1.0); read as OpenAPI 3.1",
        )
        return "3.1"
    text = value if isinstance(value, str) else as_text(value)
    if not isinstance(value, str):
        problems.error(
            ("openapi",), f"openapi: {text} must be a string with the full version, e.g. '{text}.0'"
        )
    match = _VERSION.match(text)
    minor = match.group(1) if match else ""
    if minor in ("0", "1", "2"):
        return f"3.{minor}"
    problems.error(
        ("openapi",),
        f"openapi: {text!r} is not a version this portal reads (expected 3.0.x, 3.1.x or "
        "3.2.x, or swagger: '2.0'); read as OpenAPI 3.1",
    )
    return "3.1"


def _check_top(doc: dict[str, Any], version: str, problems: Problems) -> None:
    check_info(doc, problems)
    if version in ("2.0", "3.0"):
        if "paths" not in doc:
            spec = "Swagger 2.0" if version == "2.0" else "OpenAPI 3.0"
            problems.error(("paths",), f"no 'paths' (required in {spec}; write paths: {{}})")
    elif not any(key in doc for key in ("paths", "webhooks", "components")):
        problems.error(
            (), f"OpenAPI {version} needs at least one of 'paths', 'webhooks' or 'components'"
        )


def _operations(ctx: Context, section: str) -> list[OperationInfo]:
    found: list[OperationInfo] = []
    items = ctx.mapping(ctx.root.get(section), (section,), section)
    methods = (*METHODS, "query") if ctx.version == "3.2" else METHODS
    for key, raw in items.items():
        path = str(key)
        if path.startswith("x-"):
            continue
        if section == "paths" and not path.startswith("/"):
            ctx.problems.error((section, path), f"path '{path}' must start with '/'")
        item, where = ctx.follow(raw, (section, path))
        if item is None:
            continue  # an unresolvable $ref, reported by check_refs
        item = ctx.mapping(item, where, f"path item '{path}'")
        shared = item.get("parameters")
        shared_parameters = tuple(
            (param, (*where, "parameters", index))
            for index, param in enumerate(shared if isinstance(shared, list) else [])
        )
        candidates = [(m, (*where, m), item[m]) for m in methods if m in item]
        if ctx.version == "3.2":  # methods beyond the fixed ones
            extra = as_dict(item.get("additionalOperations"))
            candidates += [
                (str(m), (*where, "additionalOperations", str(m)), value)
                for m, value in extra.items()
            ]
        for method, pointer, value in candidates:
            op = ctx.mapping(value, pointer, f"{method.upper()} {path}")
            if not isinstance(value, dict):
                continue
            tag = _WEBHOOKS if section == "webhooks" else _tags(op)[0]
            operation_id = as_text(op.get("operationId"))
            named = operation_id if slug(operation_id) else f"{method}-{path}"
            anchor = ctx.anchors.claim("op", named)
            if operation_id and operation_id not in ctx.operation_anchors:
                ctx.operation_anchors[operation_id] = anchor
            found.append(
                OperationInfo(method.upper(), path, op, pointer, shared_parameters, anchor, tag)
            )
    return found


def _check_unique_ids(infos: list[OperationInfo], problems: Problems) -> None:
    first: dict[str, OperationInfo] = {}
    for info in infos:
        operation_id = as_text(info.operation.get("operationId"))
        if not operation_id:
            continue
        if operation_id in first:
            other = first[operation_id]
            problems.error(
                (*info.pointer, "operationId"),
                f"operationId '{operation_id}' is used by both {other.method} {other.path} and "
                f"{info.method} {info.path} (operationIds must be unique)",
            )
        else:
            first[operation_id] = info


def _tags(op: dict[str, Any]) -> list[str]:
    tags = [as_text(tag) for tag in as_list(op.get("tags")) if as_text(tag)]
    return list(dict.fromkeys(tags)) or [_DEFAULT_TAG]


def _groups(ctx: Context, infos: list[OperationInfo]) -> tuple[list[str], list[OperationInfo]]:
    """Operations under one h2 per tag: declared tags first, then the others, then default.

    An operation with several tags is rendered under its first and linked from the others.
    """
    declared = {
        as_text(tag.get("name")): tag
        for tag in as_list(ctx.root.get("tags"))
        if isinstance(tag, dict) and as_text(tag.get("name"))
    }
    rendered: dict[str, list[OperationInfo]] = {}
    linked: dict[str, list[OperationInfo]] = {}
    for info in infos:
        rendered.setdefault(info.tag, []).append(info)
        for tag in _tags(info.operation)[1:]:
            linked.setdefault(tag, []).append(info)
    used = set(rendered) | set(linked)
    order = [tag for tag in declared if tag in used]
    order += sorted(used - set(order) - {_DEFAULT_TAG})
    if _DEFAULT_TAG in used and _DEFAULT_TAG not in order:
        order.append(_DEFAULT_TAG)
    lines: list[str] = []
    for tag in order:
        lines += [heading(2, inline(tag), ctx.anchors.claim("tag", tag)), ""]
        about = declared.get(tag, {})
        if as_text(about.get("description")):
            lines += [*prose(as_text(about["description"]), 3), ""]
        docs = as_dict(about.get("externalDocs"))
        if as_text(docs.get("url")):
            label = inline(as_text(docs.get("description")) or "More documentation")
            lines += [link(label, as_text(docs["url"])), ""]
        for info in rendered.get(tag, []):
            lines += render_operation(ctx, info)
        also = [f"- [{i.method} {inline(i.path)}](#{i.anchor})" for i in linked.get(tag, [])]
        if also:
            lines += ["Also in this group:", "", *also, ""]
    return lines, [info for tag in order for info in rendered.get(tag, [])]


def render_openapi(
    doc: dict[str, Any], *, title: str | None, description: str | None, name: str
) -> ApiReference:
    """Render one parsed OpenAPI document; never raises on bad content."""
    problems = Problems()
    version = _version(doc, problems)
    check_refs(doc, problems, example_refs=version != "2.0")
    _check_top(doc, version, problems)
    resolver, anchors = Resolver(doc), Anchors()
    components = as_dict(doc.get("components"))
    base: Pointer = ("definitions",) if version == "2.0" else ("components", "schemas")
    schemas = named(doc.get("definitions") if version == "2.0" else components.get("schemas"))
    links: dict[Pointer, tuple[str, str]] = {
        (*base, key): (key, anchors.claim("schema", key)) for key in schemas
    }
    schemes = named(
        doc.get("securityDefinitions") if version == "2.0" else components.get("securitySchemes")
    )
    ctx = Context(doc, version, problems, anchors, resolver, SchemaRenderer(resolver, links))
    ctx.security_anchors = {key: anchors.claim("security", key) for key in schemes}
    paths = _operations(ctx, "paths")
    hooks = _operations(ctx, "webhooks") if version != "2.0" else []
    _check_unique_ids(paths + hooks, problems)

    info = as_dict(doc.get("info"))
    page_title = title or as_text(info.get("title")) or name
    spec = "Swagger 2.0" if version == "2.0" else f"OpenAPI {as_text(doc.get('openapi'))}"
    lines = info_lines(doc, page_title, spec, description)
    lines += servers_section(doc, version, problems)
    everywhere = security_line(ctx, doc["security"], ("security",)) if "security" in doc else None
    lines += security_section(schemes, ctx.security_anchors, resolver, everywhere)
    grouped, ordered = _groups(ctx, paths)
    lines += grouped
    if hooks:
        lines += [heading(2, "Webhooks", "webhooks"), ""]
        for hook in hooks:
            lines += render_operation(ctx, hook)
    lines += ctx.schemas.section(base, schemas)

    operations = [
        Operation(
            anchor=item.anchor,
            method=item.method,
            path=item.path,
            summary=as_text(item.operation.get("summary")),
            description=as_text(item.operation.get("description")),
            tag=item.tag,
            operation_id=as_text(item.operation.get("operationId")) or None,
        )
        for item in ordered + hooks
    ]
    return ApiReference(
        format=f"openapi-{version}",
        title=page_title,
        version=as_text(info.get("version")) or None,
        markdown="\n".join(lines).rstrip("\n") + "\n",
        operations=operations,
        problems=problems.items,
    )
