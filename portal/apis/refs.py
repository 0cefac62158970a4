"""Local ``$ref`` resolution in a parsed definition: JSON pointers, chains of refs, loops.

Only references into the same document (``#/…``) can be followed: a definition
is rendered from one text, so a ref into another file is reported and shown by
name. Every ``$ref`` is checked once, in one walk, so its problem carries the
pointer of the ``$ref`` key wherever the ref is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from portal.apis.model import Pointer, Problems

__all__ = ["Resolved", "Resolver", "check_refs", "external_name", "parse_pointer"]

Status = Literal["ok", "dangling", "external", "invalid", "loop"]

# Keys whose values are literal data, where a "$ref" key is data, not a reference.
_DATA_KEYS = frozenset({"example", "default", "enum", "const", "value", "dataValue"})
# Keys whose values map names to objects: there a key like "default" or "value"
# is a name (a default response, a property called value), not data.
_NAME_MAPS = frozenset(
    [
        "properties",
        "patternProperties",
        "dependentSchemas",
        "$defs",
        "definitions",
        "paths",
        "webhooks",
        "callbacks",
        "responses",
        "components",
        "schemas",
        "parameters",
        "securitySchemes",
        "securityDefinitions",
        "headers",
        "content",
        "encoding",
        "links",
        "requestBodies",
        "pathItems",
        "channels",
        "messages",
        "operations",
        "servers",
        "variables",
        "operationTraits",
        "messageTraits",
        "serverVariables",
        "replies",
        "replyAddresses",
        "correlationIds",
        "channelBindings",
        "operationBindings",
        "messageBindings",
        "serverBindings",
    ]
)


def parse_pointer(ref: str) -> tuple[str, ...] | None:
    """The key path named by a local ref such as ``#/components/schemas/Pet``."""
    if not ref.startswith("#"):
        return None
    fragment = unquote(ref[1:])
    if fragment == "":
        return ()
    if not fragment.startswith("/"):
        return None
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in fragment[1:].split("/"))


def external_name(ref: str) -> str:
    """A readable name for a ref into another file: ``../common/Error.yaml`` → ``Error``."""
    location, _, fragment = ref.partition("#")
    if fragment.strip("/"):
        return fragment.rstrip("/").rsplit("/", 1)[-1] or ref
    base = location.rstrip("/").rsplit("/", 1)[-1]
    return base.split(".", 1)[0] or ref


_MISSING = object()


def _lookup(root: Any, parts: tuple[str, ...]) -> tuple[Any, Pointer]:
    """The value at ``parts`` and the key path found to it, with list positions as numbers.

    When a part is missing the value is ``_MISSING`` and the path stops before it.
    """
    node = root
    path: list[str | int] = []
    for part in parts:
        if isinstance(node, dict):
            if part in node:
                node = node[part]
                path.append(part)
                continue
            if part.isdigit() and int(part) in node:  # YAML reads `200:` as a number
                node = node[int(part)]
                path.append(part)
                continue
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            path.append(int(part))
            continue
        return _MISSING, tuple(path)
    return node, tuple(path)


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where a chain of refs ends: the value, its key path, the last ref followed."""

    value: Any
    path: Pointer | None
    ref: str | None
    status: Status

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Resolver:
    """Follows local refs in one document."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def follow(self, node: Any) -> Resolved:
        """``node`` itself, or what its chain of ``$ref`` s leads to."""
        seen: set[tuple[str, ...]] = set()
        path: Pointer | None = None
        last: str | None = None
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref: str = node["$ref"]
            if not ref.startswith("#"):
                return Resolved(None, None, ref, "external")
            parts = parse_pointer(ref)
            if parts is None:
                return Resolved(None, None, ref, "invalid")
            if parts in seen:
                return Resolved(None, parts, ref, "loop")
            seen.add(parts)
            target, found = _lookup(self.root, parts)
            if target is _MISSING:
                return Resolved(None, parts, ref, "dangling")
            node, path, last = target, found, ref
        return Resolved(node, path, last, "ok")

    def get(self, node: Any) -> Any:
        """``node`` with refs followed, or None when they lead nowhere."""
        return self.follow(node).value


def _dangling_message(root: Any, ref: str, parts: Pointer) -> str:
    _, found = _lookup(root, tuple(str(part) for part in parts))
    missing = ".".join(str(part) for part in parts[: len(found) + 1])
    return f"$ref '{ref}' points at nothing (no {missing})"


def check_refs(root: Any, problems: Problems, *, example_refs: bool = True) -> None:
    """Report every ``$ref`` in ``root`` that cannot be followed, at the ``$ref`` key.

    ``example_refs`` says whether values of an ``examples`` map may themselves
    be refs (OpenAPI 3 and AsyncAPI) or are plain data (Swagger 2.0).
    """
    resolver = Resolver(root)
    stack: list[tuple[Any, Pointer, bool, bool]] = [(root, (), False, False)]
    while stack:
        node, pointer, inside_id, names = stack.pop()
        if isinstance(node, list):
            items = [(item, (*pointer, index), inside_id, False) for index, item in enumerate(node)]
            stack.extend(reversed(items))  # so problems come in document order
            continue
        if not isinstance(node, dict):
            continue
        inside_id = inside_id or isinstance(node.get("$id"), str)
        ref = node.get("$ref")
        if isinstance(ref, str):
            _check_one(resolver, ref, (*pointer, "$ref"), inside_id, problems)
        children = []
        for key, value in node.items():
            name = str(key)
            if name == "$ref" and isinstance(value, str):
                continue
            if not names and (name in _DATA_KEYS or name.startswith("x-")):
                continue
            if name == "examples" and not names:
                # A map of Example Objects (which may be refs), or plain example data.
                if not example_refs or not isinstance(value, dict):
                    continue
                children.append((value, (*pointer, name), inside_id, True))
                continue
            # components holds one map of names per kind of component
            child_names = (name in _NAME_MAPS and not names) or pointer == ("components",)
            children.append((value, (*pointer, name), inside_id, child_names))
        stack.extend(reversed(children))


def _check_one(
    resolver: Resolver, ref: str, pointer: Pointer, inside_id: bool, problems: Problems
) -> None:
    """Report ``ref`` itself; a ref further down its chain is reported where it is written."""
    if not ref.startswith("#"):
        problems.warning(
            pointer,
            f"$ref '{ref}' points into another file, which is not read when a definition "
            "is rendered on its own; it is shown by name only",
        )
        return
    parts = parse_pointer(ref)
    if parts is None:
        problems.error(
            pointer,
            f"$ref '{ref}' is not a JSON pointer (expected '#/' and a key path, "
            "e.g. '#/components/schemas/Pet')",
        )
        return
    target, _ = _lookup(resolver.root, parts)
    if target is _MISSING:
        message = _dangling_message(resolver.root, ref, parts)
        if inside_id:
            # Under a JSON Schema $id a ref may be relative to that schema, not the document.
            problems.warning(pointer, message)
        else:
            problems.error(pointer, message)
    elif resolver.follow({"$ref": ref}).status == "loop":
        problems.error(pointer, f"$ref '{ref}' is part of a loop of $refs that names no value")
