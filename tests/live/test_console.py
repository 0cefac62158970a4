"""The try-it console through the real app: allow-listed servers only, nothing of ours forwarded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.auth.conftest import Admin, bearer, csrf_field
from tests.live.conftest import FakeService, live_component, live_repo
from tests.oidc_provider import (
    OidcProvider,
    oidc_provider,
    provider,
    sign_in,
    sso_client,
    sso_settings,
)
from tests.web.conftest import client_for, settings_for

__all__ = ["oidc_provider", "provider"]

ORDERS = "/catalog/component/default/orders"
ORDERS_API = """\
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: "openapi: 3.0.0"
"""
TYPED = (
    "Cookie: typed=1\nAuthorization: Bearer typed-secret\nX-Api-Key: k1\nAccept: application/json"
)


def repo(root: Path, service: FakeService) -> Path:
    orders = live_component(
        "orders", {"staging": "https://orders.staging.example", "production": service.url}
    ).replace("  owner: team-a\n", "  owner: team-a\n  providesApis: [orders-api]\n")
    return live_repo(root, {"catalog/orders.yaml": orders, "catalog/orders-api.yaml": ORDERS_API})


@pytest.fixture
def http(tmp_path: Path, service: FakeService) -> Iterator[TestClient]:
    settings = settings_for(
        repo(tmp_path / "repo", service),
        live_allowed_hosts=[service.host],
        live_probe_interval=0,
        live_max_bytes=1000,
    )
    client, _portal = client_for(settings)
    with client:
        yield client


def send(http: TestClient, path: str = "/echo", **fields: str) -> dict[str, object]:
    form = {"environment": "production", "method": "GET", "path": path, **fields}
    answer = http.post(f"{ORDERS}/try", data=form, headers={"Accept": "application/json"})
    return {"status_code": answer.status_code, **answer.json()}


def test_the_console_offers_only_allow_listed_servers(http: TestClient) -> None:
    page = http.get(f"{ORDERS}/try")
    assert page.status_code == 200
    assert "staging: https://orders.staging.example (not on the allow-list)</option>" in page.text
    assert '<option value="staging"  disabled>' in page.text
    assert "<script" not in page.text  # a plain form: the page's CSP needs no exception
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # An API's console offers the servers of the components that provide it.
    api = http.get("/catalog/api/default/orders-api/try").text
    assert '<option value="production"' in api
    # And the entity page leads to it.
    assert f'href="{ORDERS}/try"' in http.get(ORDERS).text


def test_a_request_is_forwarded_without_any_credential(
    http: TestClient, service: FakeService
) -> None:
    token = Admin(http).create(name="ci", scopes=["catalog:read"])
    http.cookies.set("portal_session", "the-portal-cookie")
    answer = http.post(
        f"{ORDERS}/try",
        data={
            "environment": "production",
            "method": "POST",
            "path": "/echo?x=1",
            "headers": TYPED,
            "body": "{}",
        },
        headers={**bearer(token), "Accept": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["status"] == 200
    assert result["not_sent"] == ["Authorization", "Cookie"]
    received = service.received[-1]
    assert (received.method, received.path, received.body) == ("POST", "/echo?x=1", b"{}")
    assert received.headers["x-api-key"] == "k1"
    assert "cookie" not in received.headers and "authorization" not in received.headers
    everything = json.dumps(received.headers)
    for secret in (token, "the-portal-cookie", "typed-secret", "typed=1"):
        assert secret not in everything
    # The service's own cookie stays with the answer shown; the portal sets nothing.
    assert ["set-cookie", "service=1; Path=/"] in result["headers"]
    assert "set-cookie" not in answer.headers


def test_a_signed_in_session_cookie_is_never_forwarded(
    tmp_path: Path, service: FakeService, provider: OidcProvider
) -> None:
    from tests.conftest import write_files
    from tests.oidc_provider import PEOPLE

    root = repo(tmp_path / "repo", service)
    write_files(root, {"catalog/people.yaml": PEOPLE})
    settings = settings_for(
        root, **sso_settings(provider, live_allowed_hosts=[service.host], live_probe_interval=0)
    )
    with sso_client(settings) as http:
        assert sign_in(http, provider).status_code == 303
        assert http.cookies  # the browser holds the portal's session cookie
        page = http.get(f"{ORDERS}/try")
        form = {"environment": "production", "method": "GET", "path": "/echo"}
        answer = http.post(f"{ORDERS}/try", data={**form, **csrf_field(page.text)})
        assert answer.status_code == 200, answer.text
        assert "HTTP 200" in answer.text
    received = service.received[-1].headers
    assert "cookie" not in received and "authorization" not in received
    for value in http.cookies.values():
        assert value not in json.dumps(received)


def test_a_server_off_the_allow_list_is_refused(http: TestClient, service: FakeService) -> None:
    result = send(http, environment="staging")
    assert result["status_code"] == 403
    assert result["error"] == (
        "https://orders.staging.example is not on the allow-list, so the console does not "
        "call it (PORTAL_LIVE_ALLOWED_HOSTS)"
    )
    assert service.received == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"path": "echo"}, "path: 'echo' must start with /"),
        ({"path": "/a b"}, "path: '/a b' must start with /"),
        ({"path": "@evil.example/x"}, "path: '@evil.example/x' must start with /"),
        ({"method": "TRACE"}, "method: 'TRACE' is not one of GET, HEAD, POST"),
        ({"environment": "qa"}, "environment: 'qa' is not one of these: staging, production"),
        ({"headers": "no colon here"}, "headers, line 1: expected 'Name: value'"),
    ],
)
def test_bad_requests_name_their_field(
    http: TestClient, service: FakeService, fields: dict[str, str], message: str
) -> None:
    result = send(http, **fields)
    assert result["status_code"] == 422
    assert str(result["error"]).startswith(message)
    assert service.received == []


def test_redirects_are_shown_not_followed(http: TestClient, service: FakeService) -> None:
    service.elsewhere = "http://169.254.169.254/latest/meta-data/"
    result = send(http, path="/elsewhere")
    assert result["status"] == 302
    assert ["location", "http://169.254.169.254/latest/meta-data/"] in result["headers"]
    assert service.paths() == ["/elsewhere"]


def test_a_large_answer_is_cut_and_says_so(http: TestClient) -> None:
    page = http.post(
        f"{ORDERS}/try", data={"environment": "production", "method": "GET", "path": "/huge"}
    )
    assert page.status_code == 200
    assert "only the first 1,000 bytes are shown" in page.text
    assert "x" * 1000 in page.text and "x" * 1001 not in page.text


def test_no_answer_is_a_bad_gateway(tmp_path: Path, service: FakeService) -> None:
    settings = settings_for(
        repo(tmp_path / "repo", service),
        live_allowed_hosts=[service.host],
        live_probe_interval=0,
        live_timeout=0.3,
    )
    client, _portal = client_for(settings)
    with client:
        result = send(client, path="/slow")
    assert result["status_code"] == 502
    assert result["error"] == "no answer within 0.3 s"
