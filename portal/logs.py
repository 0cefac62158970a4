"""Log configuration for ``portal serve``: secrets and credentials never reach a log line."""

from __future__ import annotations

import copy
import logging
import pkgutil
import re
from typing import Any

from portal.secrets import mask

__all__ = ["MaskingFormatter", "log_config", "masked"]

# Credentials that can appear in a request line or a message: API tokens, bearer
# values, and the one-time values of a sign-in callback.
_CREDENTIALS = re.compile(
    r"(?P<token>qp_[A-Za-z0-9]+_[A-Za-z0-9_\-]+)"
    r"|(?P<bearer>(?i:bearer)\s+)[^\s\"']+"
    r"|(?P<param>[?&](?:code|state|id_token_hint|access_token|refresh_token|token)=)[^&\s\"']+"
)


def masked(text: str) -> str:
    """``text`` with every resolved secret and every credential-looking value replaced."""

    def replace(match: re.Match[str]) -> str:
        if match.group("token"):
            return "qp_****"
        return (match.group("bearer") or match.group("param")) + "****"

    return _CREDENTIALS.sub(replace, mask(text))


class MaskingFormatter(logging.Formatter):
    """Another formatter's whole output, masked: message, arguments of any type, traceback.

    Masking the finished line rather than the record's parts leaves nothing out: an
    exception's text, an object's ``repr`` and uvicorn's access line all end up in it.
    """

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    @classmethod
    def wrapping(cls, inner: type[logging.Formatter], **options: Any) -> MaskingFormatter:
        """For logging's dictConfig: ``{"()": MaskingFormatter.wrapping, "inner": ..., ...}``."""
        return cls(inner(**options))

    def format(self, record: logging.LogRecord) -> str:
        return masked(self.inner.format(record))


def log_config() -> dict[str, Any]:
    """uvicorn's logging setup with every formatter masked, the portal's own logger, and
    other libraries' warnings going through the same masked handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for name, options in config["formatters"].items():
        inner = options.pop("()")  # uvicorn names its formatter classes by their dotted path
        config["formatters"][name] = {
            "()": MaskingFormatter.wrapping,
            "inner": pkgutil.resolve_name(inner) if isinstance(inner, str) else inner,
            **options,
        }
    config["loggers"]["portal"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # Without this, a library's warning goes to logging's last-resort handler, unmasked.
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config
