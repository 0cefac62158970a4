"""Safe, fast YAML reading for untrusted content, with positions found only when needed.

Documents are parsed with libyaml (PyYAML's C loader). Line numbers are not kept
for every node: a file is composed a second time, by :class:`Locator`, only
when a problem in it needs a position. Hostile input (alias bombs, deep nesting,
custom tags, huge or non-UTF-8 files) becomes a :class:`YamlError` with a
position, never a hang or a crash.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

__all__ = ["Limits", "Locator", "YamlError", "load_documents", "read_text"]

# Below this size a document cannot nest deeply enough to exhaust libyaml's C
# stack (10,000 levels were measured safe), so the event scan is skipped.
_DEEP_SCAN_BYTES = 8 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 1024 * 1024
    max_nodes: int = 200_000
    max_depth: int = 100


class YamlError(Exception):
    """Content that cannot be read as YAML; line and column are 1-based."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def read_text(path: Path, limits: Limits) -> str:
    """Read a UTF-8 text file, refusing files over the size limit or with bad bytes."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limits.max_bytes:
            raise YamlError(
                f"file is {size:,} bytes, over the limit of {limits.max_bytes:,} bytes "
                "(PORTAL_MAX_FILE_BYTES)",
                1,
                1,
            )
        data = fh.read(limits.max_bytes + 1)
    return decode(data)


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlError(
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            line,
            column,
        ) from None


def load_documents(text: str, limits: Limits) -> list[Any]:
    """Parse every document of a YAML stream into plain Python values."""
    if len(text) > _DEEP_SCAN_BYTES:
        _check_depth(text, limits)
    check_aliases = "&" in text and "*" in text
    loader = _Loader(text)
    documents: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            if check_aliases:
                _check_expansion(node, limits)
            document = loader.construct_document(node)
            if _too_deep(document, limits.max_depth):
                mark = node.start_mark
                raise YamlError(_too_deep_message(limits), mark.line + 1, mark.column + 1)
            documents.append(document)
    except yaml.MarkedYAMLError as exc:
        raise _from_marked(exc, limits) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(_too_deep_message(limits)) from None
    finally:
        loader.dispose()
    return documents


def _too_deep_message(limits: Limits) -> str:
    return f"document nests more than {limits.max_depth} levels of mappings and lists"


def _too_deep(document: Any, limit: int) -> bool:
    # Iterative, so a deep document cannot exhaust the Python stack here.
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if type(node) is dict else node if type(node) is list else ()
        stack.extend((child, depth + 1) for child in children if type(child) in (dict, list))
    return False


def _from_marked(exc: yaml.MarkedYAMLError, limits: Limits) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    if "maximum nesting depth" in problem:  # libyaml's own guard, in builds that have it
        message = _too_deep_message(limits)
    elif isinstance(exc, yaml.constructor.ConstructorError) and "tag" in problem:
        tag = problem.split("tag", 1)[1].strip().strip("'")
        message = (
            f"unsupported YAML tag {tag!r}: catalog files take plain YAML, without custom tags"
        )
    else:
        context = f" {exc.context}" if exc.context else ""
        message = f"invalid YAML: {problem}{context}"
    if mark is None:
        return YamlError(message)
    return YamlError(message, mark.line + 1, mark.column + 1)


def _check_depth(text: str, limits: Limits) -> None:
    # libyaml's event parser keeps its own heap stack, so this scan is safe at
    # any depth, whereas composing nodes recurses on the C stack.
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > limits.max_depth:
                    mark = event.start_mark
                    raise YamlError(
                        _too_deep_message(limits),
                        mark.line + 1 if mark else None,
                        mark.column + 1 if mark else None,
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        raise _from_marked(exc, limits) from None


def _check_expansion(root: yaml.Node, limits: Limits) -> None:
    """Refuse documents whose aliases expand past the node limit (billion laughs)."""
    sizes: dict[int, int] = {}
    # Iterative post-order walk; each distinct node is sized once, so an
    # alias bomb costs time linear in its text, not in its expansion.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if not children_done and children:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(child), 1) for child in children)
        sizes[key] = total
        if total > limits.max_nodes:
            mark = node.start_mark
            raise YamlError(
                f"document expands to more than {limits.max_nodes:,} nodes through aliases "
                "(a 'billion laughs' document?); aliases may not multiply content",
                mark.line + 1,
                mark.column + 1,
            )


def _children(node: yaml.Node) -> Sequence[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return ()


class Locator:
    """Finds the line and column of a key path in one file's documents, lazily."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._nodes: list[yaml.Node] | None = None

    def _documents(self) -> list[yaml.Node]:
        if self._nodes is None:
            try:
                self._nodes = list(yaml.compose_all(self._text, Loader=_Loader))
            except (yaml.YAMLError, RecursionError):
                self._nodes = []
        return self._nodes

    def locate(
        self, document: int, path: Sequence[str | int], *, key: bool = False
    ) -> tuple[int, int] | None:
        """Position of ``path`` in document ``document``.

        With ``key`` the position of the mapping key itself, else of its value.
        When the path does not exist, the deepest part that does is used.
        """
        nodes = self._documents()
        if document >= len(nodes):
            return None
        node: yaml.Node = nodes[document]
        mark = node.start_mark
        for step in path:
            found = _step(node, step)
            if found is None:
                break
            key_node, value_node = found
            node = value_node
            mark = key_node.start_mark if key and step == path[-1] else value_node.start_mark
        return mark.line + 1, mark.column + 1


def _step(node: yaml.Node, step: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(step):
                return key_node, value_node
            if _is_merge(key_node):
                inherited = _step(value_node, step)
                if inherited is not None:
                    return inherited
    elif (
        isinstance(node, yaml.SequenceNode)
        and isinstance(step, int)
        and 0 <= step < len(node.value)
    ):
        item = node.value[step]
        return item, item
    return None


def _is_merge(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:merge"
