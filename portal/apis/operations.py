"""One OpenAPI operation as its own section: parameters, request body, responses, callbacks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.apis.bodies import request_body, responses
from portal.apis.context import METHODS, Context, OperationInfo, Parameters
from portal.apis.markdown import cell, code, heading, inline, link, prose, table
from portal.apis.model import Pointer
from portal.apis.refs import external_name
from portal.apis.values import as_dict, as_list, as_text, kind_of

__all__ = ["render_operation", "security_line"]

_LOCATIONS = {
    "2.0": ("query", "header", "path", "formData", "body"),
    "3.0": ("query", "header", "path", "cookie"),
    "3.1": ("query", "header", "path", "cookie"),
    "3.2": ("query", "querystring", "header", "path", "cookie"),
}


def render_operation(ctx: Context, info: OperationInfo) -> list[str]:
    """The section of one operation, under an h3 with its anchor."""
    op = info.operation
    lines = [heading(3, f"{info.method} {inline(info.path)}", info.anchor), ""]
    if op.get("deprecated") is True:
        lines += ['!!! warning "Deprecated"', "", "    This operation is deprecated.", ""]
    for key, level in (("summary", 0), ("description", 4)):
        text = as_text(op.get(key))
        if text:
            lines += [*(prose(text, level) if level else [cell(text)]), ""]
    facts = []
    operation_id = as_text(op.get("operationId"))
    if operation_id:
        facts.append(f"Operation ID: {code(operation_id)}")
    docs = op.get("externalDocs")
    if isinstance(docs, dict) and as_text(docs.get("url")):
        label = inline(as_text(docs.get("description")) or "More documentation")
        facts.append(link(label, as_text(docs["url"])))
    if facts:
        lines += [" · ".join(facts), ""]
    servers = op.get("servers")
    if isinstance(servers, list) and servers:
        urls = [code(as_text(s.get("url"))) for s in servers if isinstance(s, dict)]
        lines += [f"**Servers:** {', '.join(urls)}", ""]
    security = op.get("security", ctx.root.get("security"))
    where = (*info.pointer, "security") if "security" in op else ("security",)
    if security is not None:
        lines += [f"**Security:** {security_line(ctx, security, where)}", ""]
    parameters = _collect_parameters(ctx, info)
    lines += _parameters(ctx, parameters)
    lines += request_body(ctx, info, parameters)
    lines += responses(ctx, info)
    lines += _callbacks(ctx, op.get("callbacks"), (*info.pointer, "callbacks"))
    return lines


def security_line(ctx: Context, requirements: Any, pointer: Pointer) -> str:
    """Security requirements as text: alternatives joined by "or", schemes by "and"."""
    if not isinstance(requirements, list):
        ctx.problems.error(pointer, f"security must be a list, not {kind_of(requirements)}")
        return "see the definition"
    if not requirements:
        return "none"
    where = "securityDefinitions" if ctx.version == "2.0" else "components.securitySchemes"
    alternatives = []
    for index, requirement in enumerate(requirements):
        if not isinstance(requirement, dict) or not requirement:
            alternatives.append("none")
            continue
        schemes = []
        for name, scopes in requirement.items():
            anchor = ctx.security_anchors.get(str(name))
            if anchor is None:
                ctx.problems.error(
                    (*pointer, index, str(name)),
                    f"security requirement names '{name}', which is not in {where}",
                )
                schemes.append(inline(str(name)))
                continue
            text = f"[{inline(str(name))}](#{anchor})"
            if isinstance(scopes, list) and scopes:
                text += " (" + ", ".join(code(as_text(scope)) for scope in scopes) + ")"
            schemes.append(text)
        alternatives.append(" and ".join(schemes))
    return " or ".join(alternatives)


# -- parameters ---------------------------------------------------------------


def _collect_parameters(ctx: Context, info: OperationInfo) -> Parameters:
    """Path-level and operation-level parameters; the operation's win by name and in."""
    own = info.operation.get("parameters")
    own_list = [(item, (*info.pointer, "parameters", i)) for i, item in enumerate(as_list(own))]
    if own is not None and not isinstance(own, list):
        ctx.problems.error((*info.pointer, "parameters"), "parameters must be a list")
        own_list = []
    merged: dict[tuple[str, str], tuple[dict[str, Any], Pointer]] = {}
    unnamed: Parameters = []
    for group in (list(info.shared_parameters), own_list):
        seen: set[tuple[str, str]] = set()
        for raw, pointer in group:
            resolved = ctx.resolver.follow(raw)
            if not resolved.ok:
                name = external_name(resolved.ref or "")
                unnamed.append(({"name": name, "x-unresolved": resolved.ref or ""}, pointer))
                continue
            param, where = ctx.follow(raw, pointer)
            if not isinstance(param, dict):
                ctx.problems.error(where, f"a parameter must be a mapping, not {kind_of(param)}")
                continue
            key = _check_parameter(ctx, param, where)
            if key is None:
                unnamed.append((param, where))
                continue
            if key in seen:
                ctx.problems.error(
                    where, f"parameter '{key[0]}' in {key[1]} is listed twice for this operation"
                )
            seen.add(key)
            merged[key] = (param, where)
    return [*merged.values(), *unnamed]


def _check_parameter(ctx: Context, param: dict[str, Any], where: Pointer) -> tuple[str, str] | None:
    name, location = param.get("name"), param.get("in")
    for key, value in (("name", name), ("in", location)):
        if not isinstance(value, str) or not value:
            ctx.problems.error(
                where, f"parameter has no '{key}' (every parameter needs name and in)"
            )
    if not isinstance(name, str) or not isinstance(location, str) or not name or not location:
        return None
    allowed = _LOCATIONS.get(ctx.version, _LOCATIONS["3.1"])
    if location not in allowed:
        ctx.problems.error(
            (*where, "in"),
            f"parameter '{name}': in: '{location}' is not a parameter location in OpenAPI "
            f"{ctx.version} (expected one of {', '.join(allowed)})",
        )
    if location == "path" and param.get("required") is not True:
        ctx.problems.error(where, f"path parameter '{name}' must have required: true")
    return name, location


def _parameter_schema(ctx: Context, param: dict[str, Any]) -> Any:
    if ctx.version == "2.0":
        return param  # a 2.0 parameter carries type, format and items itself
    if "schema" in param:
        return param["schema"]
    content = param.get("content")
    if isinstance(content, dict):
        for media in content.values():
            if isinstance(media, dict):
                return media.get("schema")
    return None


def _parameters(ctx: Context, parameters: Parameters) -> list[str]:
    rows = []
    for param, _ in parameters:
        location = as_text(param.get("in"))
        if location == "body":
            continue  # shown as the request body
        unresolved = param.get("x-unresolved")
        if isinstance(unresolved, str):
            kind = "(external $ref)" if not unresolved.startswith("#") else "⚠ unresolved $ref"
            name = code(as_text(param.get("name")) or "?")
            rows.append([name, "", f"{kind} {code(unresolved)}", "", ""])
            continue
        schema = _parameter_schema(ctx, param)
        notes = [ctx.schemas.notes(ctx.resolver.get(schema))]
        if param.get("deprecated") is True:
            notes.append("*deprecated*")
        examples = [param["example"]] if "example" in param else []
        examples += [
            as_dict(ctx.resolver.get(e)).get("value")
            for e in as_dict(param.get("examples")).values()
        ]
        shown = [code(as_text(e)) for e in examples if as_text(e)]
        if shown:
            notes.append(f"example: {', '.join(shown)}")
        if isinstance(param.get("collectionFormat"), str):
            notes.append(f"{code(param['collectionFormat'])} list")
        described = [cell(as_text(param.get("description"))), " · ".join(n for n in notes if n)]
        rows.append(
            [
                code(as_text(param.get("name")) or "?"),
                inline(location),
                ctx.schemas.type_of(schema) if schema is not None else "",
                "yes" if param.get("required") is True else "",
                "<br>".join(part for part in described if part),
            ]
        )
    if not rows:
        return []
    headers = ["Name", "In", "Type", "Required", "Description"]
    return ["**Parameters**", "", *table(headers, rows), ""]


# -- bodies and responses -----------------------------------------------------


def _callbacks(ctx: Context, callbacks: Any, pointer: Pointer) -> list[str]:
    if not isinstance(callbacks, dict) or not callbacks:
        return []
    lines = ["**Callbacks**", ""]
    for name, raw in callbacks.items():
        callback = ctx.resolver.get(raw)
        for expression, raw_item in (callback if isinstance(callback, dict) else {}).items():
            item = ctx.resolver.get(raw_item)
            for method in METHODS:
                op = item.get(method) if isinstance(item, dict) else None
                if not isinstance(op, dict):
                    continue
                text = f"- {code(str(name))}: {code(f'{method.upper()} {expression}')}"
                about = as_text(op.get("summary")) or as_text(op.get("description"))
                if about:
                    text += f" — {cell(about.strip().splitlines()[0])}"
                body = ctx.resolver.get(op.get("requestBody"))
                if isinstance(body, dict):
                    schemas = [
                        ctx.schemas.type_of(media.get("schema"))
                        for media in _values(body.get("content"))
                        if isinstance(media, dict) and "schema" in media
                    ]
                    if schemas:
                        text += f" · body: {schemas[0]}"
                lines.append(text)
    return [*lines, ""]


def _values(value: Any) -> list[Any]:
    return list(value.values()) if isinstance(value, Mapping) else []
