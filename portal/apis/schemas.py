"""JSON Schema (as OpenAPI and AsyncAPI use it) rendered as compact Markdown.

A schema becomes a one-line type (``array of [Pet](#schema-pet)``, ``string
(date-time)``) and, for objects, a table of properties. Named component schemas
are linked, never expanded in place, so a recursive schema ends at a link; inline
objects are expanded to a fixed depth.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from portal.apis.markdown import cell, code, example_block, heading, inline, prose, table
from portal.apis.model import Pointer
from portal.apis.refs import Resolver, external_name
from portal.apis.values import as_text

__all__ = ["SchemaRenderer"]

Links = Mapping[Pointer, tuple[str, str]]  # key path → (name, anchor)
Active = frozenset[Pointer]

_CONSTRAINTS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "default",
)
_FLAGS = ("readOnly", "writeOnly", "deprecated")
_MAX_TYPE_NESTING = 8
_MAX_ENUM = 20
# Refs can make a small document describe an exponentially large tree (a schema
# naming ten schemas that each name ten more …), so the work is bounded by the
# document's own size: a base amount plus a share per value in it.
_BUDGET_BASE = 50_000
_BUDGET_PER_VALUE = 20


def _compact(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):
        return repr(value)


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        types = [declared]
    elif isinstance(declared, list):
        types = [item for item in declared if isinstance(item, str)]
    elif "properties" in schema or "additionalProperties" in schema:
        types = ["object"]
    elif "items" in schema or "prefixItems" in schema:
        types = ["array"]
    else:
        types = []
    if (schema.get("nullable") is True or schema.get("x-nullable") is True) and (
        "null" not in types
    ):
        types.append("null")
    return types


def _size(root: Any) -> int:
    """How many values ``root`` holds, counted without recursion."""
    count, stack = 0, [root]
    while stack:
        node = stack.pop()
        count += 1
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def _scalar(value: object) -> str:
    return code(value) if isinstance(value, str) else code(_compact(value))


class SchemaRenderer:
    """Renders schemas of one document, linking its named schemas to their sections."""

    def __init__(self, resolver: Resolver, links: Links, max_depth: int = 3) -> None:
        self.resolver = resolver
        self.links = links
        self.max_depth = max_depth
        self._budget = _BUDGET_BASE + _BUDGET_PER_VALUE * _size(resolver.root)

    def _spend(self) -> bool:
        self._budget -= 1
        return self._budget >= 0

    # -- one-line types -------------------------------------------------------

    def link(self, path: Pointer) -> str | None:
        named = self.links.get(path)
        if named is None:
            return None
        name, anchor = named
        return f"[{inline(name)}](#{anchor})"

    def type_of(self, schema: Any, active: Active = frozenset(), nesting: int = 0) -> str:
        """The type of ``schema`` as Markdown on one line, safe in a table cell."""
        if nesting > _MAX_TYPE_NESTING or not self._spend():
            return "…"
        if isinstance(schema, bool):
            return "any" if schema else "nothing (false schema)"
        if not isinstance(schema, dict):
            return "any"
        if isinstance(schema.get("$ref"), str):
            return self._ref_type(schema, active, nesting)
        parts: list[str] = []
        for kind in _types(schema) or [""]:
            parts.append(self._one_type(kind, schema, active, nesting))
        text = " or ".join(part for part in parts if part)
        for keyword, label in (("allOf", "all of"), ("oneOf", "one of"), ("anyOf", "any of")):
            members = schema.get(keyword)
            if isinstance(members, list) and members:
                listed = ", ".join(self.type_of(item, active, nesting + 1) for item in members)
                text = f"{text}, {label}: {listed}" if text else f"{label}: {listed}"
        if "not" in schema:
            negated = f"not {self.type_of(schema['not'], active, nesting + 1)}"
            text = f"{text}, {negated}" if text else negated
        if "const" in schema:
            text = f"{text}, const {code(_compact(schema['const']))}".lstrip(", ")
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            values = ", ".join(code(_compact(value)) for value in enum[:_MAX_ENUM])
            more = f" and {len(enum) - _MAX_ENUM} more" if len(enum) > _MAX_ENUM else ""
            text = f"{text}, one of {values}{more}".lstrip(", ")
        return text or "any"

    def _ref_type(self, schema: Mapping[str, Any], active: Active, nesting: int) -> str:
        resolved = self.resolver.follow(schema)
        ref = resolved.ref or str(schema["$ref"])
        if resolved.status == "external":
            return f"{code(external_name(ref))} (external $ref)"
        if resolved.status == "loop":
            return f"⚠ $ref loop at {code(ref)}"
        if not resolved.ok or resolved.path is None:
            return f"⚠ unresolved $ref {code(ref)}"
        link = self.link(resolved.path)
        if resolved.path in active:
            return f"↻ recursive: {link or code(ref)}"
        if link is not None:
            return link
        return self.type_of(resolved.value, active | {resolved.path}, nesting + 1)

    def _one_type(self, kind: str, schema: Mapping[str, Any], active: Active, nesting: int) -> str:
        if kind == "array":
            items = schema.get("items")
            if "prefixItems" in schema and items is None:
                return "tuple"
            inner = "any" if items is None else self.type_of(items, active, nesting + 1)
            return f"array of {inner}"
        if kind == "object":
            extra = schema.get("additionalProperties")
            if not schema.get("properties") and isinstance(extra, dict):
                return f"map of {self.type_of(extra, active, nesting + 1)}"
            return "object"
        text = inline(kind)
        fmt = as_text(schema.get("format"))
        if fmt:
            text = f"{text} ({inline(fmt)})" if text else inline(fmt)
        return text

    # -- blocks ---------------------------------------------------------------

    def section(self, base: Pointer, schemas: Mapping[str, Any]) -> list[str]:
        """The "Schemas" h2 with one h3 per named schema, each at the anchor links point to."""
        if not schemas:
            return []
        lines = [heading(2, "Schemas", "schemas"), ""]
        for name, schema in schemas.items():
            path = (*base, name)
            lines += [heading(3, inline(name), self.links[path][1]), ""]
            lines += self.block(schema, frozenset({path}))
        return lines

    def notes(self, schema: Any) -> str:
        """Constraints, flags and a scalar example of ``schema`` on one line."""
        if not isinstance(schema, dict):
            return ""
        notes = [code(f"{key}: {_compact(schema[key])}") for key in _CONSTRAINTS if key in schema]
        notes.extend(f"*{key}*" for key in _FLAGS if schema.get(key) is True)
        examples = schema.get("examples")  # JSON Schema: a list of values
        values = [schema["example"]] if "example" in schema else []
        values += examples if isinstance(examples, list) else []
        shown = [_scalar(value) for value in values if not isinstance(value, dict | list)]
        if shown:
            notes.append(f"example: {', '.join(shown[:_MAX_ENUM])}")
        return " · ".join(notes)

    def block(self, schema: Any, active: Active = frozenset()) -> list[str]:
        """A schema in full: its type, description, notes, properties and variants."""
        lines = [f"**Type:** {self.type_of(schema, active)}", ""]
        target = schema
        if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            resolved = self.resolver.follow(schema)
            if not resolved.ok or resolved.path is None or resolved.path in self.links:
                return lines  # a named schema is described in its own section
            target, active = resolved.value, active | {resolved.path}
        if not isinstance(target, dict):
            return lines
        description = as_text(target.get("description"))
        if description:
            lines += [*prose(description, 5), ""]
        notes = self.notes(target)
        if notes:
            lines += [notes, ""]
        rows = self.rows(target, active)
        if rows:
            lines += [*table(["Property", "Type", "Required", "Description"], rows), ""]
        for keyword in ("oneOf", "anyOf"):
            lines += self._variants(target.get(keyword), keyword, active)
        example = target.get("example")
        if isinstance(example, dict | list):
            lines += ["Example:", "", *example_block(example), ""]
        return lines

    def _variants(self, members: Any, keyword: str, active: Active) -> list[str]:
        if not isinstance(members, list):
            return []
        lines: list[str] = []
        label = "One of" if keyword == "oneOf" else "Any of"
        for number, member in enumerate(members, 1):
            rows = self.rows(member, active) if not _is_named_ref(member, self) else []
            if rows:
                lines += [f"{label}, option {number}:", ""]
                lines += [*table(["Property", "Type", "Required", "Description"], rows), ""]
        return lines

    def rows(
        self, schema: Any, active: Active, prefix: str = "", depth: int = 1
    ) -> list[list[str]]:
        """Property rows of an object schema, inline objects flattened as ``a.b``."""
        properties, required = self._properties(schema, active, 0)
        if not properties and prefix == "" and isinstance(schema, dict):
            items = schema.get("items")
            if isinstance(items, dict) and "$ref" not in items:
                return self.rows(items, active, "[].", depth)
        rows: list[list[str]] = []
        for name, sub in properties:
            description = as_text(sub.get("description")) if isinstance(sub, dict) else ""
            notes = self.notes(sub)
            text = "<br>".join(part for part in (cell(description), notes) if part)
            rows.append(
                [
                    code(prefix + name),
                    self.type_of(sub, active),
                    "yes" if name in required else "",
                    text,
                ]
            )
            rows += self._nested(sub, active, f"{prefix}{name}", depth, rows[-1])
        return rows

    def _nested(
        self, sub: Any, active: Active, name: str, depth: int, row: list[str]
    ) -> list[list[str]]:
        if not isinstance(sub, dict) or "$ref" in sub:
            return []
        target, suffix = sub, "."
        items = sub.get("items")
        if isinstance(items, dict) and "$ref" not in items:
            target, suffix = items, "[]."
        has_properties = isinstance(target.get("properties"), dict) and target["properties"]
        if not has_properties and not isinstance(target.get("allOf"), list):
            return []
        if depth >= self.max_depth:
            row[3] = "<br>".join(part for part in (row[3], "nested properties not shown") if part)
            return []
        return self.rows(target, active, name + suffix, depth + 1)

    def _properties(
        self, schema: Any, active: Active, level: int
    ) -> tuple[list[tuple[str, Any]], set[str]]:
        """Properties and required names of ``schema``, with ``allOf`` members merged in."""
        if level > _MAX_TYPE_NESTING or not self._spend():
            return [], set()
        resolved = self.resolver.follow(schema)
        if not resolved.ok or not isinstance(resolved.value, dict):
            return [], set()
        if resolved.path is not None:
            if resolved.path in active and level > 0:
                return [], set()
            active = active | {resolved.path}
        node = resolved.value
        merged: dict[str, Any] = {}
        required: set[str] = set()
        members = node.get("allOf")
        for member in members if isinstance(members, list) else []:
            more, more_required = self._properties(member, active, level + 1)
            merged.update(more)
            required |= more_required
        own = node.get("properties")
        if isinstance(own, dict):
            merged.update((str(key), value) for key, value in own.items())
        names = node.get("required")
        if isinstance(names, list):
            required |= {str(name) for name in names}
        return list(merged.items()), required


def _is_named_ref(schema: Any, renderer: SchemaRenderer) -> bool:
    if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
        return False
    path = renderer.resolver.follow(schema).path
    return path is not None and path in renderer.links
