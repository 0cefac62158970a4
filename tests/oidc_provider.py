"""A real OpenID provider for tests: ``oidc-provider-mock`` in a child process on loopback.

``python -m tests.oidc_provider --port-file F [--token-seconds N]`` serves on a free port
(written to F) until killed. In front of the mock sits a small WSGI layer that can
misbehave on purpose, as a test asks through ``POST /_harness/knobs``:

- ``token_host``: token requests are answered as another host, so the ID token names
  another issuer;
- ``client_id``: the authorization and token requests are made as another client, so the
  ID token is meant for another audience;

and that records every token request's form (``GET /_harness/token-requests``), so that
tests can check PKCE. ``POST /_harness/rotate-key`` gives the provider a new signing key.
Users are set through the mock's own API (``PUT /users/<sub>``).

The parent's side is :class:`OidcProvider`, and :func:`sign_in` plays the browser through
the whole redirect dance against the real portal app.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

if TYPE_CHECKING:  # the provider's process needs none of these
    from starlette.testclient import TestClient

    from portal.settings import Settings
    from portal.web.runtime import Portal

ROOT = Path(__file__).resolve().parent.parent

# Users of the provider, with the groups claim the portal maps to roles.
USERS: dict[str, dict[str, Any]] = {
    "alice": {
        "email": "alice@example.com",
        "name": "Alice Liddell",
        "preferred_username": "alice",
        "groups": ["team-a", "platform"],
    },
    "bob": {"email": "bob@partner.example", "preferred_username": "bob", "groups": ["team-b"]},
    "rita": {"email": "rita@example.com", "name": "Rita Reader", "groups": []},
}


class OidcProvider:
    """The provider process, seen from the tests."""

    def __init__(self, token_seconds: int = 3600) -> None:
        self.token_seconds = token_seconds
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, users: dict[str, dict[str, Any]] = USERS) -> OidcProvider:
        self._folder = tempfile.TemporaryDirectory(prefix="oidc-provider-")
        self._log = Path(self._folder.name) / "provider.log"
        port_file = Path(self._folder.name) / "port"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.oidc_provider",
                    "--port-file",
                    str(port_file),
                    "--token-seconds",
                    str(self.token_seconds),
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                # It answers as another host for some tests: plain http there too.
                env={**os.environ, "PYTHONWARNINGS": "ignore", "AUTHLIB_INSECURE_TRANSPORT": "1"},
            )
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the OIDC provider did not start:\n{self._log.read_text()}")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        for sub, claims in users.items():
            self.put_user(sub, claims)
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)
        self._process = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def put_user(self, sub: str, claims: dict[str, Any]) -> None:
        httpx.put(f"{self.url}/users/{sub}", json=claims).raise_for_status()

    def revoke_tokens(self, sub: str) -> None:
        httpx.post(f"{self.url}/users/{sub}/revoke-tokens").raise_for_status()

    def knobs(self, **knobs: str) -> None:
        """Misbehave as told (see the module's docstring); no knobs: behave again."""
        httpx.post(f"{self.url}/_harness/knobs", json=knobs).raise_for_status()

    def rotate_key(self) -> None:
        httpx.post(f"{self.url}/_harness/rotate-key").raise_for_status()

    def token_requests(self) -> list[dict[str, str]]:
        response = httpx.get(f"{self.url}/_harness/token-requests")
        response.raise_for_status()
        requests: list[dict[str, str]] = response.json()
        return requests

    def authorize(self, url: str, sub: str) -> str:
        """The user ``sub`` approves the authorization request ``url``: the callback URL."""
        response = httpx.post(url, data={"sub": sub})
        assert response.status_code == 302, response.text
        return response.headers["location"]


def sign_in(
    client: TestClient, provider: OidcProvider, sub: str = "alice", next_path: str | None = None
) -> httpx.Response:
    """The browser's whole dance: the portal's /login, the provider's consent, the callback.

    Returns the portal's answer to the callback (a redirect, or the failure page).
    """
    start = client.get("/login", params={"next": next_path} if next_path is not None else None)
    assert start.status_code == 303, start.text
    callback = provider.authorize(start.headers["location"], sub)
    assert urlsplit(callback).path == "/auth/callback", callback
    return client.get(local(callback))


def local(url: str) -> str:
    """The path and query of a URL of the portal (what the test client requests)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    provider = OidcProvider().start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def provider(oidc_provider: OidcProvider) -> Iterator[OidcProvider]:
    """The session's provider, behaving (knobs reset after each test)."""
    yield oidc_provider
    oidc_provider.knobs()
    for sub, claims in USERS.items():
        oidc_provider.put_user(sub, claims)


# Catalog users the portal maps signed-in people to: alice by email, bob by user name.
PEOPLE = """\
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: alice
spec:
  profile: {displayName: Alice Liddell, email: ALICE@example.com}
  memberOf: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: bob
spec:
  memberOf: []
"""


@pytest.fixture
def sso(web_repo: Path, provider: OidcProvider) -> Iterator[TestClient]:
    """The real portal with single sign-on against the provider; nobody signed in yet."""
    from tests.conftest import write_files
    from tests.web.conftest import settings_for

    write_files(web_repo, {"catalog/people.yaml": PEOPLE})
    client = sso_client(settings_for(web_repo, **sso_settings(provider)))
    with client:
        yield client


def sso_client(settings: Settings, **options: Any) -> TestClient:
    from starlette.testclient import TestClient

    from portal.web import create_app
    from tests.web.conftest import LOOPBACK

    app = create_app(settings, rebuild=False)
    return TestClient(
        app, client=options.pop("client", LOOPBACK), follow_redirects=False, **options
    )


def sso_settings(provider: OidcProvider, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "oidc_issuer": provider.url,
        "oidc_client_id": "portal",
        "oidc_client_secret": "portal-secret",
        "session_secret": "test-session-secret-0123456789abcdef",
        "role_groups": {"contributor": ["team-a", "team-b"], "admin": ["platform"]},
    }
    return {**settings, **overrides}


def portal_of(client: TestClient) -> Portal:
    portal: Portal = client.app.state.portal  # type: ignore[attr-defined]
    return portal


# -- the provider process ------------------------------------------------------------


class Harness:
    """The WSGI layer in front of the mock (see the module's docstring)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.knobs: dict[str, str] = {}
        self.token_requests: list[dict[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_harness/knobs":
            self.knobs = json.loads(_body(environ) or b"{}")
            start_response("204 No Content", [])
            return [b""]
        if path == "/_harness/token-requests":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(self.token_requests).encode()]
        client_id = self.knobs.get("client_id")
        if path == "/oauth2/authorize" and client_id:
            query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
            environ["QUERY_STRING"] = urlencode({**query, "client_id": client_id})
        if path == "/oauth2/token":
            body = _body(environ)
            environ["wsgi.input"] = io.BytesIO(body)
            self.token_requests.append(dict(parse_qsl(body.decode())))
            if client_id and environ.get("HTTP_AUTHORIZATION", "").startswith("Basic "):
                _old, _, secret = base64.b64decode(environ["HTTP_AUTHORIZATION"][6:]).partition(
                    b":"
                )
                credentials = base64.b64encode(client_id.encode() + b":" + secret).decode()
                environ["HTTP_AUTHORIZATION"] = f"Basic {credentials}"
            if "token_host" in self.knobs:
                environ["HTTP_HOST"] = self.knobs["token_host"]
        return self.app(environ, start_response)


def _body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def main(argv: list[str] | None = None) -> None:
    import argparse
    from datetime import timedelta

    import flask
    import oidc_provider_mock
    import werkzeug.serving
    from authlib import jose

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--token-seconds", type=int, default=3600)
    args = parser.parse_args(argv)

    app = oidc_provider_mock.app(
        require_nonce=True, access_token_max_age=timedelta(seconds=args.token_seconds)
    )

    @app.post("/_harness/rotate-key")
    def rotate_key() -> tuple[str, int]:
        flask.g.oidc_provider_mock_storage.jwk = jose.RSAKey.generate_key(is_private=True)
        return "", 204

    app.wsgi_app = Harness(app.wsgi_app)  # type: ignore[method-assign]
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    Path(args.port_file).write_text(str(server.server_port))
    server.serve_forever()


if __name__ == "__main__":
    main()
