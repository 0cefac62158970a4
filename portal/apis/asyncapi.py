"""AsyncAPI 2.x and 3.0 documents rendered as one page: channels, operations, messages.

Each operation (2.x ``publish``/``subscribe``, 3.0 ``send``/``receive``) is its
own h3 under its channel; messages and schemas have their own sections, payloads
are rendered with the OpenAPI schema renderer, and the whole definition follows
in a collapsed source block so it is searchable.
"""

from __future__ import annotations

import re
from typing import Any

from portal.apis.markdown import (
    Anchors,
    cell,
    code,
    details,
    dump,
    example_block,
    fence,
    heading,
    inline,
    prose,
    slug,
    table,
)
from portal.apis.model import ApiReference, Operation, Pointer, Problems
from portal.apis.overview import check_info, expand_url, info_lines, security_section
from portal.apis.refs import Resolver, check_refs
from portal.apis.schemas import SchemaRenderer
from portal.apis.values import as_dict, as_list, as_text, named

__all__ = ["render_asyncapi"]

_VERSION = re.compile(r"^([23])\.\d+(?:\.\d+)?")
_JSON_SCHEMA_FORMATS = ("application/schema", "application/vnd.aai.asyncapi")


class _Page:
    """One AsyncAPI document being rendered."""

    def __init__(self, doc: dict[str, Any], major: str, problems: Problems) -> None:
        self.doc, self.major, self.problems = doc, major, problems
        self.resolver = Resolver(doc)
        self.anchors = Anchors()
        components = as_dict(doc.get("components"))
        self.schema_names = named(components.get("schemas"))
        self.message_names = named(components.get("messages"))
        links: dict[Pointer, tuple[str, str]] = {
            ("components", "schemas", k): (k, self.anchors.claim("schema", k))
            for k in self.schema_names
        }
        self.messages: dict[Pointer, tuple[str, str]] = {
            ("components", "messages", k): (k, self.anchors.claim("message", k))
            for k in self.message_names
        }
        self.schemes = named(components.get("securitySchemes"))
        self.scheme_anchors = {k: self.anchors.claim("security", k) for k in self.schemes}
        self.schemas = SchemaRenderer(self.resolver, links)
        self.content_type = as_text(doc.get("defaultContentType"))

    # -- messages -------------------------------------------------------------

    def message(self, raw: Any) -> dict[str, Any]:
        """A message with refs followed and its traits applied (the message's own keys win)."""
        message = as_dict(self.resolver.get(raw))
        merged: dict[str, Any] = {}
        for trait in as_list(message.get("traits")):
            merged.update(as_dict(self.resolver.get(trait)))
        merged.update(message)
        return merged

    def payload(self, message: dict[str, Any], key: str) -> list[str]:
        schema = message.get(key)
        fmt = as_text(message.get("schemaFormat"))
        if isinstance(schema, dict) and "schemaFormat" in schema and "schema" in schema:
            fmt, schema = as_text(schema["schemaFormat"]), schema["schema"]  # 3.0 multi-format
        label = "Payload" if key == "payload" else "Headers"
        if schema is None:
            return []
        if fmt and not fmt.startswith(_JSON_SCHEMA_FORMATS):
            return [f"**{label}** ({code(fmt)}):", "", *fence(dump(schema, "yaml"), "yaml"), ""]
        return [f"**{label}**", "", *self.schemas.block(schema)]

    def message_body(self, message: dict[str, Any]) -> list[str]:
        lines: list[str] = []
        title = as_text(message.get("title"))
        summary = as_text(message.get("summary"))
        if title or summary:
            lines += [" — ".join(cell(part) for part in (title, summary) if part), ""]
        description = as_text(message.get("description"))
        if description:
            lines += [*prose(description, 5), ""]
        content_type = as_text(message.get("contentType")) or self.content_type
        if content_type:
            lines += [f"Content type {code(content_type)}", ""]
        lines += self.payload(message, "headers") + self.payload(message, "payload")
        for index, example in enumerate(as_list(message.get("examples")), 1):
            example = as_dict(example)
            name = as_text(example.get("name")) or str(index)
            label = f"Example {code(name)}"
            if as_text(example.get("summary")):
                label += f" — {inline(as_text(example['summary']))}"
            value = {k: example[k] for k in ("headers", "payload") if k in example}
            lines += [f"{label}:", "", *example_block(value, content_type or "json"), ""]
        return lines

    def message_reference(self, raw: Any) -> list[str]:
        """A message used by an operation: a link when it is named, else the message in full."""
        messages = as_list(as_dict(raw).get("oneOf")) or [raw]
        lines: list[str] = []
        for item in messages:
            path = self.resolver.follow(item).path
            named = self.messages.get(path) if path is not None else None
            message = self.message(item)
            name = as_text(message.get("name")) or (named[0] if named else "")
            label = f"[{inline(named[0])}](#{named[1]})" if named else code(name or "message")
            lines += [f"**Message** {label}", ""]
            if named:
                title = as_text(message.get("title")) or as_text(message.get("summary"))
                if title:
                    lines += [cell(title), ""]
                lines += [f"Payload: {self.schemas.type_of(message.get('payload'))}", ""]
            else:
                lines += self.message_body(message)
        return lines

    # -- sections -------------------------------------------------------------

    def servers(self) -> list[str]:
        rows = []
        for name, raw in as_dict(self.doc.get("servers")).items():
            server = as_dict(self.resolver.get(raw))
            where: Pointer = ("servers", str(name))
            if self.major == "2":
                url = as_text(server.get("url"))
            else:
                url = as_text(server.get("host")) + as_text(server.get("pathname"))
            url, notes = expand_url(url, server.get("variables"), self.problems, where)
            protocol = as_text(server.get("protocol"))
            version = as_text(server.get("protocolVersion"))
            described = " · ".join(
                part for part in (cell(as_text(server.get("description"))), notes) if part
            )
            rows.append(
                [cell(str(name)), code(url), code(f"{protocol} {version}".strip()), described]
            )
        if not rows:
            return []
        headers = ["Environment", "URL", "Protocol", "Description"]
        return [heading(2, "Servers", "servers"), "", *table(headers, rows), ""]

    def parameters(self, channel: dict[str, Any]) -> list[str]:
        rows = []
        for name, raw in as_dict(channel.get("parameters")).items():
            parameter = as_dict(self.resolver.get(raw))
            schema = parameter.get("schema", parameter if self.major == "3" else None)
            kind = self.schemas.type_of(schema) if schema is not None else "string"
            rows.append([code(str(name)), kind, cell(as_text(parameter.get("description")))])
        if not rows:
            return []
        return ["**Parameters**", "", *table(["Name", "Type", "Description"], rows), ""]

    def operation(
        self, method: str, path: str, op: dict[str, Any], tag: str, messages: list[Any]
    ) -> tuple[Operation, list[str]]:
        operation_id = as_text(op.get("operationId"))
        named = operation_id if slug(operation_id) else f"{method}-{path}"
        anchor = self.anchors.claim("op", named)
        lines = [heading(3, f"{method} {inline(path)}", anchor), ""]
        summary, description = as_text(op.get("summary")), as_text(op.get("description"))
        for text, level in ((as_text(op.get("title")), 0), (summary, 0), (description, 4)):
            if text:
                lines += [*(prose(text, level) if level else [cell(text)]), ""]
        if operation_id:
            lines += [f"Operation ID: {code(operation_id)}", ""]
        for message in messages:
            lines += self.message_reference(message)
        found = Operation(anchor, method, path, summary, description, tag, operation_id or None)
        return found, lines

    def channel_heading(self, name: str, channel: dict[str, Any]) -> list[str]:
        lines = [heading(2, inline(name), self.anchors.claim("channel", name)), ""]
        for key, level in (("title", 0), ("summary", 0), ("description", 3)):
            text = as_text(channel.get(key))
            if text:
                lines += [*(prose(text, level) if level else [cell(text)]), ""]
        return lines + self.parameters(channel)

    def channels_2(self) -> tuple[list[Operation], list[str]]:
        operations: list[Operation] = []
        lines: list[str] = []
        for name, raw in as_dict(self.doc.get("channels")).items():
            channel = as_dict(self.resolver.get(raw))
            lines += self.channel_heading(str(name), channel)
            for action in ("publish", "subscribe"):
                op = as_dict(self.resolver.get(channel.get(action)))
                if action not in channel:
                    continue
                messages = [op["message"]] if "message" in op else []
                found, section = self.operation(action.upper(), str(name), op, str(name), messages)
                operations.append(found)
                lines += section
        return operations, lines

    def channels_3(self) -> tuple[list[Operation], list[str]]:
        by_channel: dict[Pointer | None, list[tuple[str, dict[str, Any]]]] = {}
        for key, raw in as_dict(self.doc.get("operations")).items():
            op = as_dict(self.resolver.get(raw))
            channel_path = self.resolver.follow(op.get("channel")).path
            by_channel.setdefault(channel_path, []).append((str(key), op))
        operations: list[Operation] = []
        lines: list[str] = []
        groups: list[tuple[Pointer | None, str, dict[str, Any]]] = [
            (("channels", str(key)), str(key), as_dict(self.resolver.get(raw)))
            for key, raw in as_dict(self.doc.get("channels")).items()
        ]
        if None in by_channel:
            groups.append((None, "Other operations", {}))
        for path, name, channel in groups:
            address = as_text(channel.get("address")) or name
            lines += self.channel_heading(address, channel)
            for key, op in by_channel.get(path, []):
                method = as_text(op.get("action")).upper() or "OPERATION"
                messages = as_list(op.get("messages")) or list(
                    as_dict(channel.get("messages")).values()
                )
                op = {"operationId": key, **op}
                found, section = self.operation(method, address, op, address, messages)
                operations.append(found)
                lines += section
        return operations, lines

    def components(self) -> list[str]:
        lines: list[str] = []
        if self.message_names:
            lines += [heading(2, "Messages", "messages"), ""]
            for name, message in self.message_names.items():
                anchor = self.messages[("components", "messages", name)][1]
                lines += [heading(3, inline(name), anchor), ""]
                lines += self.message_body(self.message(message))
        return lines + self.schemas.section(("components", "schemas"), self.schema_names)


def _major(doc: dict[str, Any], problems: Problems) -> str:
    version = as_text(doc.get("asyncapi"))
    match = _VERSION.match(version)
    if match:
        return match.group(1)
    guess = "3" if "operations" in doc else "2"
    problems.error(
        ("asyncapi",) if "asyncapi" in doc else (),
        f"asyncapi: {version!r} is not a version this portal reads (expected 2.x or 3.0); "
        f"read as AsyncAPI {guess}",
    )
    return guess


def render_asyncapi(
    doc: dict[str, Any],
    *,
    title: str | None,
    description: str | None,
    name: str,
    text: str | None,
) -> ApiReference:
    """Render one parsed AsyncAPI document; never raises on bad content."""
    problems = Problems()
    major = _major(doc, problems)
    check_refs(doc, problems)
    check_info(doc, problems)
    info = doc.get("info")
    if major == "2" and "channels" not in doc:
        problems.error(("channels",), "no 'channels' (required in AsyncAPI 2)")
    page = _Page(doc, major, problems)
    page_title = title or as_text(as_dict(info).get("title")) or name
    lines = info_lines(doc, page_title, f"AsyncAPI {as_text(doc.get('asyncapi'))}", description)
    if page.content_type:
        lines += [f"Default content type: {code(page.content_type)}", ""]
    lines += page.servers()
    lines += security_section(page.schemes, page.scheme_anchors, page.resolver)
    operations, channel_lines = page.channels_2() if major == "2" else page.channels_3()
    lines += channel_lines + page.components()
    source = text if text is not None else dump(doc, "yaml")
    lines += [heading(2, "Source", "source"), ""]
    lines += [*details("AsyncAPI definition", fence(source, "yaml")), ""]
    return ApiReference(
        format=f"asyncapi-{major}",
        title=page_title,
        version=as_text(as_dict(info).get("version")) or None,
        markdown="\n".join(lines).rstrip("\n") + "\n",
        operations=operations,
        problems=problems.items,
    )
