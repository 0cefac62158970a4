"""Entity references: ``[kind:][namespace/]name``, parsed with defaults and kept canonical."""

from __future__ import annotations

from dataclasses import dataclass

from portal.catalog import rules

__all__ = ["DEFAULT_NAMESPACE", "EntityRef", "RefError", "parse_ref"]

DEFAULT_NAMESPACE = "default"


class RefError(ValueError):
    """A string that is not a valid entity reference; ``reason`` says why."""

    def __init__(self, text: object, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"{_show(text)} {reason}")


@dataclass(frozen=True, slots=True, order=True)
class EntityRef:
    """A canonical (lowercase) reference to one entity."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"

    @classmethod
    def of(cls, kind: str, namespace: str, name: str) -> EntityRef:
        return cls(kind.lower(), namespace.lower(), name.lower())

    def short(self, default_kind: str | None = None) -> str:
        """The shortest spelling that still means this entity in the default namespace."""
        text = self.name if self.namespace == DEFAULT_NAMESPACE else f"{self.namespace}/{self.name}"
        return text if self.kind == default_kind else f"{self.kind}:{text}"


def parse_ref(
    text: object, *, default_kind: str | None = None, default_namespace: str = DEFAULT_NAMESPACE
) -> EntityRef:
    """Parse ``[kind:][namespace/]name`` the way Backstage does.

    The kind may be left out only where the field gives a default kind; the
    namespace defaults to the referring entity's namespace.
    """
    if not isinstance(text, str):
        raise RefError(text, "is not a string")
    if not text:
        raise RefError(text, "is empty")
    colon = text.find(":")
    slash = text.find("/")
    kind: str | None
    if colon != -1 and (slash == -1 or colon < slash):
        kind, rest = text[:colon], text[colon + 1 :]
        if not kind:
            raise RefError(text, "has an empty kind before ':'")
    else:
        kind, rest = default_kind, text
    if "/" in rest:
        namespace, name = rest.split("/", 1)
        if not namespace:
            raise RefError(text, "has an empty namespace before '/'")
    else:
        namespace, name = default_namespace, rest
    if kind is None:
        raise RefError(text, "names no kind, and this field has no default kind")
    if not rules.is_valid_kind(kind):
        raise RefError(text, f"has an invalid kind {kind!r} ({rules.KIND_RULE})")
    if not rules.is_valid_namespace(namespace.lower()):
        raise RefError(text, f"has an invalid namespace {namespace!r} ({rules.NAMESPACE_RULE})")
    if not rules.is_valid_name(name):
        raise RefError(text, f"has an invalid name {name!r} ({rules.NAME_RULE})")
    return EntityRef(kind.lower(), namespace.lower(), name.lower())


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
