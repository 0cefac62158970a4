"""The portal's exception hierarchy: user errors derive from PortalError."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portal.problems import Problem


class PortalError(Exception):
    """A problem the user can act on; the CLI prints it and exits with 1."""


class ConfigError(PortalError):
    """Settings or configuration files are invalid."""


class ValidationFailed(PortalError):
    """Content failed validation; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))
