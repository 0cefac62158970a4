"""Log configuration for ``portal serve``: secrets and credentials never reach a log line."""

from __future__ import annotations

import copy
import json
import logging
import pkgutil
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from portal.secrets import mask

__all__ = ["REQUEST_ID", "JsonFormatter", "MaskingFormatter", "log_config", "masked"]

# The id of the request being served (set by portal.web.observe): every line logged
# while serving it carries the id, whichever logger wrote it.
REQUEST_ID: ContextVar[str | None] = ContextVar("portal_request_id", default=None)

LogFormat = Literal["auto", "json", "text"]

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


# What every LogRecord has; anything else on a record was passed as ``extra=``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of the message
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id, and every
    ``extra=`` field, each string masked on its own (masking the encoded line could miss a
    secret that JSON escapes)."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": masked(record.getMessage()),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            event["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if value is None or isinstance(value, bool | int | float):
                event[key] = value
            else:
                event[key] = masked(value if isinstance(value, str) else repr(value))
        if record.exc_info:
            event["exception"] = masked(self.formatException(record.exc_info))
        if record.stack_info:
            event["stack"] = masked(self.formatStack(record.stack_info))
        return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def log_config(log_format: LogFormat = "text") -> dict[str, Any]:
    """uvicorn's logging setup with every formatter masked, the portal's own logger, and
    other libraries' warnings going through the same masked handler.

    ``json``: one JSON object per line (for a log collector); ``text``: uvicorn's lines,
    for a person; ``auto``: text when standard error is a terminal, else JSON.
    """
    from uvicorn.config import LOGGING_CONFIG

    if log_format == "auto":
        log_format = "text" if sys.stderr.isatty() else "json"
    config = copy.deepcopy(LOGGING_CONFIG)
    for name, options in config["formatters"].items():
        if log_format == "json":
            config["formatters"][name] = {"()": JsonFormatter}
            continue
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
