"""Identity tests run the real app on the small repository (see tests/web/conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from portal.web.runtime import Portal
from tests.oidc_provider import oidc_provider, provider, sso
from tests.web.conftest import client_for, settings_for, web_repo

__all__ = [
    "Admin",
    "admin",
    "bearer",
    "csrf_field",
    "oidc_provider",
    "provider",
    "sso",
    "web_repo",
]

TOKEN = re.compile(r"qp_[0-9a-f]+_[A-Za-z0-9_-]+")
CSRF = re.compile(r'<input type="hidden" name="csrf" value="([^"]*)">')


def csrf_field(html: str) -> dict[str, str]:
    """The page's CSRF form field, when the portal asks for one."""
    found = CSRF.search(html)
    return {"csrf": found.group(1)} if found else {}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Admin:
    """The development identity (an admin, on loopback) working the admin pages."""

    def __init__(self, http: TestClient) -> None:
        self.http = http
        self.portal: Portal = http.app.state.portal  # type: ignore[attr-defined]

    def create(self, **fields: str | list[str]) -> str:
        """Create a token on the admin page; the whole token, as the page shows it once."""
        form = self.http.get("/admin/tokens")
        data: dict[str, str | list[str]] = {"name": "a token", "scopes": ["catalog:read"]}
        response = self.http.post("/admin/tokens", data={**data, **fields, **csrf_field(form.text)})
        assert response.status_code == 201, response.text
        found = TOKEN.search(response.text)
        assert found is not None
        return found.group(0)

    def revoke(self, token_id: str) -> None:
        form = self.http.get("/admin/tokens")
        response = self.http.post(f"/admin/tokens/{token_id}/revoke", data=csrf_field(form.text))
        assert response.status_code == 303, response.text


@pytest.fixture
def admin(web_repo: Path) -> Iterator[Admin]:
    http, _portal = client_for(settings_for(web_repo))
    with http:
        yield Admin(http)
