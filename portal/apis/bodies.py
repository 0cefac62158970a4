"""Request and response bodies of an operation: content per media type, examples, headers."""

from __future__ import annotations

from typing import Any

from portal.apis.context import Context, OperationInfo, Parameters
from portal.apis.markdown import cell, code, example_block, inline, link, prose, table
from portal.apis.model import Pointer
from portal.apis.values import as_text

__all__ = ["request_body", "responses"]


def _examples(ctx: Context, media: dict[str, Any], media_type: str) -> list[str]:
    lines: list[str] = []
    if "example" in media:
        lines += ["Example:", "", *example_block(media["example"], media_type), ""]
    examples = media.get("examples")
    if not isinstance(examples, dict):
        return lines
    for name, raw in examples.items():
        example = ctx.resolver.get(raw)
        if not isinstance(example, dict):
            continue
        label = f"Example {code(str(name))}"
        summary = as_text(example.get("summary"))
        if summary:
            label += f" — {inline(summary)}"
        external = as_text(example.get("externalValue"))
        if "value" in example:
            lines += [f"{label}:", "", *example_block(example["value"], media_type), ""]
        elif external:
            lines += [f"{label}: {link(inline(external), external)}", ""]
        description = as_text(example.get("description"))
        if description:
            lines += [*prose(description, 5), ""]
    return lines


_TYPE_LABEL = "**Type:** "


def _content(ctx: Context, content: Any, pointer: Pointer) -> list[str]:
    """Media types with their schema and examples; types with the same schema share a block."""
    media_map = ctx.mapping(content, pointer, "content")
    lines: list[str] = []
    grouped: dict[str, list[str]] = {}
    blocks: dict[str, list[str]] = {}
    for media_type, raw in media_map.items():
        media = raw if isinstance(raw, dict) else {}
        block = []
        if "schema" in media:
            # the schema's own location, so a ref back to it shows as recursion
            here = frozenset({(*pointer, str(media_type), "schema")})
            block += ctx.schemas.block(media["schema"], here)
        block += _examples(ctx, media, str(media_type))
        key = "\n".join(block)
        grouped.setdefault(key, []).append(str(media_type))
        blocks[key] = block
    for key, types in grouped.items():
        label = "Content type " + ", ".join(code(t) for t in types)
        block = blocks[key]
        if len(block) == 2 and block[0].startswith(_TYPE_LABEL):  # only a type: one line
            lines += [f"{label}: {block[0].removeprefix(_TYPE_LABEL)}", ""]
        else:
            lines += [f"{label}:" if block else label, "", *block]
    return lines


def request_body(ctx: Context, info: OperationInfo, parameters: Parameters) -> list[str]:
    op = info.operation
    if ctx.version == "2.0":
        return _body_parameter(ctx, info, parameters)
    if "requestBody" not in op:
        return []
    body, where = ctx.follow(op["requestBody"], (*info.pointer, "requestBody"))
    if not isinstance(body, dict):
        return [f"**Request body** {ctx.unreadable(op['requestBody'])}", ""]
    title = "**Request body**" + (" (required)" if body.get("required") is True else "")
    lines = [title, ""]
    description = as_text(body.get("description"))
    if description:
        lines += [*prose(description, 5), ""]
    return lines + _content(ctx, body.get("content"), (*where, "content"))


def _media_types(ctx: Context, op: dict[str, Any], key: str) -> list[str]:
    types = op.get(key, ctx.root.get(key))
    return [str(t) for t in types] if isinstance(types, list) and types else []


def _body_parameter(ctx: Context, info: OperationInfo, parameters: Parameters) -> list[str]:
    bodies = [p for p, _ in parameters if p.get("in") == "body"]
    if len(bodies) > 1:
        ctx.problems.error(
            (*info.pointer, "parameters"), "an operation can have only one body parameter"
        )
    if not bodies:
        return []
    body = bodies[0]
    title = "**Request body**" + (" (required)" if body.get("required") is True else "")
    lines = [title, ""]
    description = as_text(body.get("description"))
    if description:
        lines += [*prose(description, 5), ""]
    types = _media_types(ctx, info.operation, "consumes")
    if types:
        lines += ["Content type " + ", ".join(code(t) for t in types) + ":", ""]
    return lines + ctx.schemas.block(body.get("schema"))


def _headers(ctx: Context, headers: Any) -> list[str]:
    if not isinstance(headers, dict) or not headers:
        return []
    rows = []
    for name, raw in headers.items():
        header = ctx.resolver.get(raw)
        header = header if isinstance(header, dict) else {}
        schema = header.get("schema", header) if ctx.version != "2.0" else header
        rows.append(
            [code(str(name)), ctx.schemas.type_of(schema), cell(as_text(header.get("description")))]
        )
    return ["Headers:", "", *table(["Header", "Type", "Description"], rows), ""]


def _links(ctx: Context, links: Any) -> list[str]:
    if not isinstance(links, dict) or not links:
        return []
    lines = ["Links:", ""]
    for name, raw in links.items():
        target = ctx.resolver.get(raw)
        target = target if isinstance(target, dict) else {}
        operation_id = as_text(target.get("operationId"))
        if operation_id in ctx.operation_anchors:
            to = f"[{inline(operation_id)}](#{ctx.operation_anchors[operation_id]})"
        else:
            to = code(operation_id or as_text(target.get("operationRef")) or "?")
        parameters = target.get("parameters")
        bound = ""
        if isinstance(parameters, dict) and parameters:
            pairs = [f"{code(str(k))} = {code(as_text(v))}" for k, v in parameters.items()]
            bound = " (" + ", ".join(pairs) + ")"
        lines.append(f"- {code(str(name))} → {to}{bound}")
    return [*lines, ""]


def responses(ctx: Context, info: OperationInfo) -> list[str]:
    op, pointer = info.operation, (*info.pointer, "responses")
    if "responses" not in op:
        if ctx.version in ("2.0", "3.0"):
            ctx.problems.error(
                info.pointer,
                f"{info.method} {info.path} has no 'responses' "
                f"(required in {'Swagger' if ctx.version == '2.0' else 'OpenAPI'} {ctx.version})",
            )
        return []
    responses = ctx.mapping(op["responses"], pointer, "responses")
    if not responses:
        ctx.problems.error(pointer, "responses must list at least one response code")
        return []
    lines = ["**Responses**", ""]
    for status, raw in responses.items():
        if str(status).startswith("x-"):
            continue
        response, where = ctx.follow(raw, (*pointer, str(status)))
        label = f"**Response {code(str(status))}**"
        if not isinstance(response, dict):
            if ctx.resolver.follow(raw).ok:
                ctx.problems.error(where, f"response '{status}' must be a mapping")
            lines += [f"{label} {ctx.unreadable(raw)}", ""]
            continue
        description = as_text(response.get("description")).strip()
        if description and "\n" not in description:
            lines += [f"{label} — {description}", ""]
        elif description:
            lines += [label, "", *prose(description, 5), ""]
        else:
            lines += [label, ""]
        if not description and ctx.version != "3.2":
            ctx.problems.error(where, f"response '{status}' has no 'description' (required)")
        lines += _headers(ctx, response.get("headers"))
        if ctx.version == "2.0":
            lines += _response_body_2(ctx, info.operation, response)
        elif "content" in response:
            lines += _content(ctx, response["content"], (*where, "content"))
        lines += _links(ctx, response.get("links"))
    return lines


def _response_body_2(ctx: Context, op: dict[str, Any], response: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if "schema" in response:
        types = _media_types(ctx, op, "produces")
        if types:
            lines += ["Content type " + ", ".join(code(t) for t in types) + ":", ""]
        lines += ctx.schemas.block(response["schema"])
    examples = response.get("examples")
    if isinstance(examples, dict):
        for media_type, value in examples.items():
            lines += [f"Example ({code(str(media_type))}):", ""]
            lines += [*example_block(value, str(media_type)), ""]
    return lines
