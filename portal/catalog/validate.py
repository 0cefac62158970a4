"""Validation of one descriptor document against Backstage's rules and its kind's fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.catalog import rules
from portal.catalog.kinds import FieldSpec, KindSpec
from portal.catalog.model import Entity, Origin
from portal.catalog.refs import DEFAULT_NAMESPACE, EntityRef, RefError, parse_ref
from portal.problems import Problem, Report, Severity

__all__ = ["KeyPath", "problem_at", "show", "validate_document"]

KeyPath = tuple[str | int, ...]


def problem_at(
    origin: Origin,
    path: KeyPath,
    message: str,
    severity: Severity = "error",
    *,
    key: bool = False,
) -> Problem:
    """A problem at a key path of an entity's document; the message is prefixed by the path."""
    pos = origin.position(path, key=key)
    label = dotted(path)
    text = f"{label}: {message}" if label else message
    return Problem(origin.display, text, severity, *(pos or (None, None)))


def dotted(path: KeyPath) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif step.lstrip("$").replace("_", "").isalnum():
            out += f".{step}" if out else step
        else:
            out += f"[{step!r}]"
    return out


def show(value: object) -> str:
    """A short, quoted rendering of a value for messages."""
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 70 else text[:66] + "...'"
    if value is None:
        return "nothing (null)"
    names = {
        dict: "a mapping",
        list: "a list",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }
    return names.get(type(value), type(value).__name__)


class _Checker:
    def __init__(self, origin: Origin, report: Report) -> None:
        self.origin = origin
        self.report = report
        self.failed = False

    def error(self, path: KeyPath, message: str, *, key: bool = False) -> None:
        self.failed = True
        self.report.add(problem_at(self.origin, path, message, key=key))

    def warning(self, path: KeyPath, message: str, *, key: bool = False) -> None:
        self.report.add(problem_at(self.origin, path, message, "warning", key=key))


def validate_document(
    data: Mapping[str, Any], origin: Origin, kinds: Mapping[str, KindSpec], report: Report
) -> Entity | None:
    """Check one document; return the entity, or None when it has any error."""
    check = _Checker(origin, report)
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    if api_version is None:
        check.error((), "apiVersion is required (e.g. backstage.io/v1alpha1)")
    elif not rules.is_valid_api_version(api_version):
        check.error(
            ("apiVersion",),
            f"{show(api_version)} is not a valid apiVersion (expected group/version, "
            "e.g. backstage.io/v1alpha1)",
        )
    if kind is None:
        check.error((), "kind is required (e.g. Component, API, System, Group)")
    elif not rules.is_valid_kind(kind):
        check.error(("kind",), f"{show(kind)} is not a valid kind ({rules.KIND_RULE})")

    spec_kind = kinds.get(kind.lower()) if isinstance(kind, str) else None
    if spec_kind is None and isinstance(kind, str) and rules.is_valid_kind(kind):
        known = ", ".join(sorted(k.kind for k in kinds.values()))
        check.warning(
            ("kind",),
            f"unknown kind {kind!r}: the entity is kept without kind-specific checks "
            f"(known kinds: {known})",
        )
    elif (
        spec_kind is not None
        and isinstance(api_version, str)
        and api_version not in spec_kind.api_versions
    ):
        check.error(
            ("apiVersion",),
            f"{show(api_version)} is not an apiVersion of kind {spec_kind.kind} "
            f"(expected {' or '.join(spec_kind.api_versions)})",
        )

    metadata = data.get("metadata")
    namespace = DEFAULT_NAMESPACE
    if not isinstance(metadata, Mapping):
        where = () if metadata is None else ("metadata",)
        check.error(where, "metadata is required: a mapping with at least a name")
        metadata = {}
    else:
        namespace = _check_metadata(check, metadata)

    spec = data.get("spec")
    spec_refs: list[tuple[str, int | None, EntityRef]] = []
    if spec_kind is not None:
        if not isinstance(spec, Mapping):
            where = () if spec is None else ("spec",)
            check.error(where, f"spec is required for kind {spec_kind.kind}: a mapping")
            spec = {}
        else:
            spec_refs = _check_spec(check, spec_kind, spec, namespace)
    elif spec is not None and not isinstance(spec, Mapping):
        check.error(("spec",), f"expected a mapping, got {show(spec)}")

    if check.failed or not isinstance(kind, str):
        return None
    ref_kind = spec_kind.kind if spec_kind else kind
    return Entity(
        ref=EntityRef.of(ref_kind, namespace, str(metadata["name"])),
        kind=ref_kind,
        api_version=str(api_version),
        metadata=dict(metadata),
        spec=dict(spec or {}),
        raw=dict(data),
        origin=origin,
        spec_refs=spec_refs,
    )


def _check_metadata(check: _Checker, metadata: Mapping[str, Any]) -> str:
    name = metadata.get("name")
    if name is None:
        check.error(("metadata",), "name is required")
    elif not rules.is_valid_name(name):
        hint = f", e.g. {rules.suggest_slug(name)}" if isinstance(name, str) else ""
        check.error(
            ("metadata", "name"), f"{show(name)} is not a valid name ({rules.NAME_RULE}{hint})"
        )

    namespace = metadata.get("namespace", DEFAULT_NAMESPACE)
    if not rules.is_valid_namespace(namespace):
        hint = (
            f", e.g. {rules.suggest_slug(namespace, allowed='-')}"
            if isinstance(namespace, str)
            else ""
        )
        check.error(
            ("metadata", "namespace"),
            f"{show(namespace)} is not a valid namespace ({rules.NAMESPACE_RULE}{hint})",
        )
        namespace = DEFAULT_NAMESPACE

    for text_field in ("title", "description"):
        value = metadata.get(text_field)
        if value is not None and not isinstance(value, str):
            check.error(("metadata", text_field), f"expected text, got {show(value)}")

    _check_string_map(
        check,
        metadata,
        "labels",
        rules.is_valid_label_key,
        rules.LABEL_KEY_RULE,
        value_ok=rules.is_valid_label_value,
        value_rule=rules.LABEL_VALUE_RULE,
    )
    _check_string_map(
        check, metadata, "annotations", rules.is_valid_annotation_key, rules.ANNOTATION_KEY_RULE
    )

    tags = metadata.get("tags")
    if tags is not None:
        if not isinstance(tags, list):
            check.error(("metadata", "tags"), f"expected a list of tags, got {show(tags)}")
        else:
            for i, tag in enumerate(tags):
                if not rules.is_valid_tag(tag):
                    hint = (
                        f", e.g. {rules.suggest_slug(tag, allowed=':+#')}"
                        if isinstance(tag, str)
                        else ""
                    )
                    check.error(
                        ("metadata", "tags", i),
                        f"{show(tag)} is not a valid tag ({rules.TAG_RULE}{hint})",
                    )

    links = metadata.get("links")
    if links is not None:
        if not isinstance(links, list):
            check.error(("metadata", "links"), f"expected a list of links, got {show(links)}")
        else:
            for i, link in enumerate(links):
                _check_link(check, ("metadata", "links", i), link)
    return str(namespace)


def _check_string_map(
    check: _Checker,
    metadata: Mapping[str, Any],
    field: str,
    key_ok: Any,
    key_rule: str,
    *,
    value_ok: Any = None,
    value_rule: str = "",
) -> None:
    values = metadata.get(field)
    if values is None:
        return
    if not isinstance(values, Mapping):
        check.error(("metadata", field), f"expected a mapping of keys to text, got {show(values)}")
        return
    for key, value in values.items():
        path: KeyPath = ("metadata", field, str(key))
        if not key_ok(key):
            hint = f", e.g. {_suggest_key(key)}" if isinstance(key, str) else ""
            check.error(
                path, f"{show(key)} is not a valid {field[:-1]} key ({key_rule}{hint})", key=True
            )
        if not isinstance(value, str):
            check.error(path, f"expected text, got {show(value)} (quote it: '{value}')")
        elif value_ok is not None and not value_ok(value):
            check.error(path, f"{show(value)} is not a valid value ({value_rule})")


def _suggest_key(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    # camelCase becomes kebab-case: goVersion -> go-version.
    spaced = "".join("-" + c.lower() if c.isupper() and i else c for i, c in enumerate(name))
    return f"{prefix.lower()}{slash}{rules.suggest_slug(spaced)}"


def _check_link(check: _Checker, path: KeyPath, link: object) -> None:
    if not isinstance(link, Mapping):
        check.error(path, f"expected a mapping with url, title, icon and type, got {show(link)}")
        return
    url = link.get("url")
    if url is None:
        check.error(path, "url is required")
    elif not rules.is_valid_url(url):
        check.error(
            (*path, "url"),
            f"{show(url)} is not a valid link URL (expected http(s)://host/..., mailto: or tel:)",
        )
    for text_field in ("title", "icon", "type"):
        value = link.get(text_field)
        if value is not None and not isinstance(value, str):
            check.error((*path, text_field), f"expected text, got {show(value)}")


def _check_spec(
    check: _Checker, kind: KindSpec, spec: Mapping[str, Any], namespace: str
) -> list[tuple[str, int | None, EntityRef]]:
    refs: list[tuple[str, int | None, EntityRef]] = []
    for name, field in kind.fields.items():
        path: KeyPath = ("spec", name)
        value = spec.get(name)
        if value is None:
            if field.required:
                check.error(("spec",), f"{name} is required for kind {kind.kind}{_expect(field)}")
            continue
        if field.type in ("ref", "refs"):
            items: list[tuple[int | None, Any]] = (
                [(None, value)] if field.type == "ref" else list(_list_items(check, path, value))
            )
            for index, item in items:
                item_path = path if index is None else (*path, index)
                try:
                    ref = parse_ref(
                        item, default_kind=field.default_kind, default_namespace=namespace
                    )
                except RefError as exc:
                    example = f"{field.default_kind or 'component'}:default/my-name"
                    if field.default_kind is None:
                        example = "resource:default/orders-db"
                    check.error(
                        item_path,
                        f"{show(item)} is not a valid entity ref: it {exc.reason} "
                        f"(expected [kind:][namespace/]name, e.g. {example})",
                    )
                else:
                    refs.append((name, index, ref))
        elif field.type == "string":
            if not isinstance(value, str) or not value:
                check.error(path, f"expected non-empty text, got {show(value)}{_expect(field)}")
        elif field.type == "strings":
            for index, item in _list_items(check, path, value):
                if not isinstance(item, str) or not item:
                    check.error((*path, index), f"expected non-empty text, got {show(item)}")
        elif field.type == "mapping":
            if not isinstance(value, Mapping):
                check.error(path, f"expected a mapping, got {show(value)}")
        elif field.type == "text" and not isinstance(value, str | Mapping):
            check.error(path, f"expected text (inline, or $text: ./file), got {show(value)}")
    return refs


def _list_items(check: _Checker, path: KeyPath, value: object) -> list[tuple[int, Any]]:
    if not isinstance(value, list):
        check.error(path, f"expected a list, got {show(value)}")
        return []
    return list(enumerate(value))


def _expect(field: FieldSpec) -> str:
    if field.examples:
        return f" (e.g. {', '.join(field.examples)})"
    if field.type == "refs":
        return " (a list of entity refs, may be empty: [])"
    return ""
