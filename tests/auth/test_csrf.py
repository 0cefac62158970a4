"""CSRF: changes made with a session cookie carry the session's token; bearer tokens need
none; the development identity refuses what a browser says came from another site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import HTTPConnection
from starlette.testclient import TestClient

from portal.auth import User
from tests.auth.conftest import csrf_field
from tests.conftest import component
from tests.oidc_provider import OidcProvider, sign_in
from tests.web.conftest import client_for, settings_for

MISSING = "this request lacks its CSRF token (form field 'csrf' or header X-CSRF-Token)"
WRONG = "the CSRF token does not match your session; reload the page and try again"


@pytest.fixture
def alice(sso: TestClient, provider: OidcProvider) -> TestClient:
    """A browser signed in as alice (a contributor of team-a)."""
    assert sign_in(sso, provider, "alice").status_code == 303
    return sso


def form(client: TestClient, page: str = "/register") -> dict[str, str]:
    return csrf_field(client.get(page).text)


def test_forms_carry_the_sessions_token(alice: TestClient, provider: OidcProvider) -> None:
    token = form(alice)
    assert token["csrf"]
    assert form(alice, "/catalog") == token  # the sign-out button in the header
    sign_in(alice, provider, "alice")
    assert form(alice)["csrf"] != token["csrf"]  # a new session, a new token


def test_a_form_post_without_the_token_is_refused(alice: TestClient) -> None:
    data = {"descriptor": component("x"), "action": "check"}
    refused = alice.post("/register", data=data)
    assert refused.status_code == 403
    assert refused.json() == {"detail": f"{MISSING}; reload the page and try again", "problems": []}
    page = alice.post("/register", data=data, headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert "Not allowed" in page.text
    assert MISSING.replace("'", "&#39;") in page.text

    wrong = alice.post("/register", data={**data, "csrf": "guessed"})
    assert (wrong.status_code, wrong.json()["detail"]) == (403, WRONG)
    assert alice.post("/register", data={**data, **form(alice)}).status_code == 200


def test_multipart_forms_and_their_uploads_pass_with_the_token(alice: TestClient) -> None:
    files = {"upload": ("mine.yaml", component("uploaded").encode(), "text/yaml")}
    done = alice.post("/register", data={"action": "register", **form(alice)}, files=files)
    assert done.status_code == 200, done.text
    assert "component:default/uploaded" in done.text

    entity = alice.get("/catalog/component/default/uploaded")
    removal = csrf_field(entity.text)
    assert removal == form(alice)
    path = "/catalog/component/default/uploaded/unregister"
    assert alice.post(path).status_code == 403
    assert alice.post(path, data=removal).status_code == 200


def test_api_calls_with_the_session_cookie_send_the_header(alice: TestClient) -> None:
    body = {"descriptor": component("by-script")}
    refused = alice.post("/api/v1/entities", json=body)
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        f"{MISSING}; reload the page and try again",
    )
    headers = {"X-CSRF-Token": form(alice)["csrf"]}
    assert alice.post("/api/v1/entities", json=body, headers=headers).status_code == 201
    gone = alice.delete("/api/v1/entities/component/default/by-script")
    assert gone.status_code == 403
    assert alice.delete("/api/v1/entities/component/default/by-script", headers=headers).is_success


class BearerUser:
    """A bearer token's user (the real token authenticator is another module's business)."""

    def __call__(self, connection: HTTPConnection) -> User | None:
        if connection.headers.get("authorization") != "Bearer test-token":
            return None
        return User(
            subject="ci",
            name="ci",
            email="ci@example.com",
            groups=("team-a",),
            roles=frozenset({"reader", "contributor"}),
            via="token",
            scopes=frozenset({"catalog:read", "catalog:write"}),
        )


def test_bearer_requests_need_no_token_even_with_a_cookie(alice: TestClient) -> None:
    alice.app.state.portal.authenticators.insert(0, BearerUser())  # type: ignore[attr-defined]
    bearer = {"Authorization": "Bearer test-token"}
    response = alice.post("/api/v1/entities", json={"descriptor": component("ci")}, headers=bearer)
    assert response.status_code == 201, response.text
    entity = alice.get("/api/v1/entities/component/default/ci", headers=bearer).json()
    assert entity["source"]["registered_by"] == "ci@example.com"


@pytest.fixture
def development(web_repo: Path) -> Iterator[TestClient]:
    client, _portal = client_for(settings_for(web_repo))
    with client:
        yield client


def test_the_development_identity_refuses_other_sites(development: TestClient) -> None:
    body = {"descriptor": component("x")}
    path = "/api/v1/entities?dry_run=true"
    evil = development.post(path, json=body, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403
    assert evil.json()["detail"] == (
        "a page of http://evil.example may not change this portal (a cross-site request)"
    )
    assert development.post(path, json=body, headers={"Origin": "null"}).status_code == 403
    sibling = development.post(path, json=body, headers={"Sec-Fetch-Site": "same-site"})
    assert sibling.status_code == 403
    assert "Sec-Fetch-Site: same-site" in sibling.json()["detail"]
    page = development.post(
        "/register", data={"action": "check"}, headers={"Origin": "http://localhost:3000"}
    )
    assert page.status_code == 403

    ours = {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
    assert development.post(path, json=body, headers=ours).status_code == 200
    assert development.post(path, json=body).status_code == 200  # a script, not a browser
    assert csrf_field(development.get("/register").text) == {"csrf": ""}
