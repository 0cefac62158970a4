"""Log configuration for ``portal serve``: secrets and credentials never reach a log line."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from portal.secrets import mask

__all__ = ["MaskSecrets", "log_config", "masked"]

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


class MaskSecrets(logging.Filter):
    """Masks the message and its arguments before any handler formats them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = masked(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(masked(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: masked(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging setup, with the portal's own logger and a mask on every handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"mask": {"()": MaskSecrets}}
    for handler in config["handlers"].values():
        handler["filters"] = ["mask"]
    config["loggers"]["portal"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
