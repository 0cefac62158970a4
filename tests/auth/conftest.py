"""Identity tests run the real app on the small repository (see tests/web/conftest.py)."""

from tests.web.conftest import web_repo

__all__ = ["web_repo"]
