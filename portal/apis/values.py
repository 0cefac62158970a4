"""Reading values out of untrusted parsed definitions without trusting their types."""

from __future__ import annotations

from typing import Any

__all__ = ["as_dict", "as_list", "as_text", "kind_of", "named"]


def as_text(value: object) -> str:
    """A scalar as text; containers and None give ''."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return ""


def as_dict(value: object) -> dict[Any, Any]:
    """``value`` when it is a mapping, else an empty one."""
    return value if isinstance(value, dict) else {}


def named(value: object) -> dict[str, Any]:
    """A map of names (components, schemes) with its keys as text; YAML may give numbers."""
    return {str(key): item for key, item in as_dict(value).items()}


def as_list(value: object) -> list[Any]:
    """``value`` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def kind_of(value: object) -> str:
    """What ``value`` is, for messages: 'a list', 'a string', 'nothing'."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"
