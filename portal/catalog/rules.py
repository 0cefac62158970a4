"""Backstage's rules for names, namespaces, kinds, tags, labels, annotations and links."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = [
    "ANNOTATION_KEY_RULE",
    "KIND_RULE",
    "LABEL_KEY_RULE",
    "LABEL_VALUE_RULE",
    "NAMESPACE_RULE",
    "NAME_RULE",
    "TAG_RULE",
    "is_valid_annotation_key",
    "is_valid_api_version",
    "is_valid_kind",
    "is_valid_label_key",
    "is_valid_label_value",
    "is_valid_name",
    "is_valid_namespace",
    "is_valid_tag",
    "is_valid_url",
    "suggest_slug",
]

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LOWER_NAME = re.compile(r"^([a-z0-9][-a-z0-9_.]*)?[a-z0-9]$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_KIND = re.compile(r"^[a-zA-Z][a-z0-9A-Z]*$")
_TAG = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
_API_VERSION = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]+$")

# Human descriptions, used in messages so a reader knows what would be valid.
NAME_RULE = "1-63 characters: letters and digits, with - _ . allowed between them"
NAMESPACE_RULE = (
    "a lowercase DNS label: 1-63 characters of a-z, 0-9 and -, "
    "starting and ending with a letter or digit"
)
KIND_RULE = "a letter followed by letters and digits, at most 63 characters"
TAG_RULE = "1-63 characters of a-z 0-9 : + #, words joined by single dashes"
LABEL_KEY_RULE = (
    "an optional lowercase DNS prefix and '/', then 1-63 lowercase characters: "
    "letters and digits, with - _ . between them"
)
LABEL_VALUE_RULE = f"empty, or {NAME_RULE}"
ANNOTATION_KEY_RULE = (
    "an optional lowercase DNS prefix and '/', then 1-63 characters: letters and digits, "
    "with - _ . between them"
)


def is_valid_name(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(_NAME.match(value))


def is_valid_namespace(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(_DNS_LABEL.match(value))


def is_valid_kind(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(_KIND.match(value))


def is_valid_tag(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and bool(_TAG.match(value))


def is_valid_api_version(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 253 and bool(_API_VERSION.match(value))


def _is_dns_subdomain(value: str) -> bool:
    return 1 <= len(value) <= 253 and all(_DNS_LABEL.match(part) for part in value.split("."))


def _is_prefixed(value: object, name_pattern: re.Pattern[str]) -> bool:
    if not isinstance(value, str):
        return False
    prefix, slash, name = value.rpartition("/")
    if slash and not _is_dns_subdomain(prefix):
        return False
    return len(name) <= 63 and bool(name_pattern.match(name))


def is_valid_label_key(value: object) -> bool:
    # Stricter than Backstage on purpose: the name part is lowercase, because the
    # portal's filters match labels case-insensitively and 'goVersion' next to
    # 'goversion' would be two keys that read as one.
    return _is_prefixed(value, _LOWER_NAME)


def is_valid_label_value(value: object) -> bool:
    return value == "" or is_valid_name(value)


def is_valid_annotation_key(value: object) -> bool:
    return _is_prefixed(value, _NAME)


_WHITESPACE = re.compile(r"\s")
_PLAIN_HTTP = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s]*)?$")


def is_valid_url(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return False
    if _PLAIN_HTTP.match(value):
        return True
    if _WHITESPACE.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    return parts.scheme in ("mailto", "tel", "slack", "msteams") and bool(parts.path)


def suggest_slug(value: str, *, lowercase: bool = True, allowed: str = "-_.") -> str:
    """A near spelling of ``value`` that the rules accept, for 'e.g.' hints."""
    text = value.lower() if lowercase else value
    out = "".join(c if c.isascii() and (c.isalnum() or c in allowed) else "-" for c in text)
    out = re.sub(r"-{2,}", "-", out).strip("-_.")
    return out[:63].rstrip("-_.") or "my-entity"
