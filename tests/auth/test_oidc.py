"""Single sign-on against a real OpenID provider process: the whole redirect dance, and
every way it must fail."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from portal.db.models import Account, AuditEvent, WebSession
from portal.exceptions import ConfigError
from portal.web import create_app
from portal.web.signin import local_path
from tests.auth.test_sessions import opened
from tests.oidc_provider import (
    OidcProvider,
    local,
    portal_of,
    sign_in,
    sso_client,
    sso_settings,
)
from tests.web.conftest import settings_for


def audit(client: TestClient, action: str = "login") -> list[AuditEvent]:
    with portal_of(client).db.session() as db:
        return list(
            db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by("id"))
        )


def web_sessions(client: TestClient) -> list[WebSession]:
    with portal_of(client).db.session() as db:
        return list(db.scalars(select(WebSession)))


def cookie_of(response: httpx.Response, name: str) -> str:
    """The Set-Cookie header a response gives for ``name``."""
    found = [v for v in response.headers.get_list("set-cookie") if v.startswith(f"{name}=")]
    assert len(found) == 1, response.headers
    return found[0]


def plant(client: TestClient, name: str, value: str) -> None:
    """Replace a cookie of the portal's in the test browser."""
    client.cookies.delete(name)
    client.cookies.set(name, value, domain="testserver.local")


def failed(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 400, response.text
    assert "Sign-in failed" in response.text
    assert reason in response.text, response.text
    assert "portal_session=" not in response.headers.get("set-cookie", "")


# -- success ---------------------------------------------------------------------------


def test_sign_in_maps_groups_to_roles_and_the_user_to_their_entity(
    sso: TestClient, provider: OidcProvider
) -> None:
    anonymous = sso.get("/catalog")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Fcatalog"

    start = sso.get(anonymous.headers["location"])
    assert start.status_code == 303
    authorize = urlsplit(start.headers["location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == provider.url
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "portal"
    assert query["redirect_uri"] == "http://testserver/auth/callback"
    assert query["scope"].split() == ["openid", "profile", "email", "offline_access"]
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    login_cookie = cookie_of(start, "portal_login")
    assert "HttpOnly" in login_cookie and "SameSite=lax" in login_cookie
    assert "Secure" not in login_cookie  # plain http on loopback: a developer's machine

    callback = provider.authorize(start.headers["location"], "alice")
    done = sso.get(local(callback))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/catalog"
    session_cookie = cookie_of(done, "portal_session")
    for attribute in ("HttpOnly", "Path=/", "SameSite=lax", "Max-Age=43200"):
        assert attribute in session_cookie
    assert "portal_login=" in done.headers["set-cookie"]  # the finished sign-in is forgotten

    # PKCE: the token request carried the verifier whose S256 hash went to the provider.
    verifier = provider.token_requests()[-1]["code_verifier"]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]

    page = sso.get("/catalog")
    assert page.status_code == 200
    assert "Alice Liddell" in page.text and "Sign out" in page.text
    assert sso.get("/register").status_code == 200  # team-a: contributor

    # Only the hash of the cookie's random id is stored.
    session_id = sso.cookies["portal_session"].rsplit(".", 1)[0]
    (row,) = web_sessions(sso)
    assert row.id_hash == hashlib.sha256(session_id.encode()).hexdigest()
    assert session_id not in str(row.user)
    assert row.user["groups"] == ["team-a", "platform"]
    assert row.refresh_token and row.id_token  # sealed (see test_sessions)

    with portal_of(sso).db.session() as db:
        account = db.get(Account, f"{provider.url}#alice")
        assert account is not None
        assert (account.email, account.name) == ("alice@example.com", "Alice Liddell")
        assert account.groups == ["team-a", "platform"]
        assert account.entity_ref == "user:default/alice"  # by email, whatever its case

    (event,) = audit(sso)
    assert (event.actor, event.outcome, event.source) == ("alice@example.com", "ok", "127.0.0.1")
    assert event.detail["roles"] == ["admin", "contributor", "reader"]
    assert event.detail["entity"] == "user:default/alice"
    provider_tokens = [t for t in opened(sso, row) if t]
    assert len(provider_tokens) == 2
    assert not any(value in str(event.detail) for value in provider_tokens)


def test_users_map_by_name_or_not_at_all_and_groups_decide(
    sso: TestClient, provider: OidcProvider
) -> None:
    assert sign_in(sso, provider, "rita").status_code == 303
    refused = sso.get("/register")
    assert refused.status_code == 403
    assert "this needs the contributor role; you have reader" in refused.text

    assert sign_in(sso, provider, "bob").status_code == 303
    with portal_of(sso).db.session() as db:
        accounts = {a.subject.rsplit("#", 1)[1]: a for a in db.scalars(select(Account))}
    assert accounts["bob"].entity_ref == "user:default/bob"  # by user name
    assert accounts["bob"].groups == ["team-b"]
    assert accounts["rita"].entity_ref is None
    assert [e.detail["roles"] for e in audit(sso)] == [["reader"], ["contributor", "reader"]]


@pytest.mark.parametrize(
    "claims",
    [
        # An address the provider did not verify, however it spells that.
        {"email": "alice@example.com", "email_verified": False, "preferred_username": "mal"},
        {"email": "ALICE@example.com", "email_verified": "false", "preferred_username": "mal"},
        # A display name is anyone's to choose: only the user name maps.
        {"email": "mal@example.com", "name": "alice", "preferred_username": "mallory"},
        {"email": "mal@example.com", "name": "bob"},
    ],
)
def test_an_unverified_email_or_a_display_name_maps_to_no_one(
    sso: TestClient, provider: OidcProvider, claims: dict[str, object]
) -> None:
    provider.put_user("mallory", claims)
    assert sign_in(sso, provider, "mallory").status_code == 303
    (event,) = audit(sso)
    assert event.detail["entity"] is None
    with portal_of(sso).db.session() as db:
        account = db.get(Account, f"{provider.url}#mallory")
        assert account is not None and account.entity_ref is None


def test_a_verified_email_maps(sso: TestClient, provider: OidcProvider) -> None:
    provider.put_user("al", {"email": "alice@example.com", "email_verified": True})
    assert sign_in(sso, provider, "al").status_code == 303
    assert audit(sso)[0].detail["entity"] == "user:default/alice"


def test_signing_in_again_rotates_the_session(sso: TestClient, provider: OidcProvider) -> None:
    sign_in(sso, provider, "alice")
    before = sso.cookies["portal_session"]
    sign_in(sso, provider, "bob")
    after = sso.cookies["portal_session"]
    assert after != before
    (row,) = web_sessions(sso)  # the first session was deleted, not left behind
    assert row.user["email"] == "bob@partner.example"

    # A cookie planted before sign-in (session fixation) is replaced, never adopted.
    plant(sso, "portal_session", "planted.by-someone-else")
    sign_in(sso, provider, "alice")
    assert sso.cookies["portal_session"] not in ("planted.by-someone-else", before, after)


def test_a_tab_does_not_spoil_another_tabs_sign_in(sso: TestClient, provider: OidcProvider) -> None:
    first = sso.get("/login", params={"next": "/catalog"}).headers["location"]
    second = sso.get("/login", params={"next": "/register"}).headers["location"]
    answer = sso.get(local(provider.authorize(first, "alice")))
    assert answer.headers["location"] == "/catalog"
    assert sso.get(local(provider.authorize(second, "alice"))).headers["location"] == "/register"


# -- failures ----------------------------------------------------------------------------


def test_an_answer_for_another_state_is_refused(sso: TestClient, provider: OidcProvider) -> None:
    start = sso.get("/login").headers["location"]
    callback = urlsplit(provider.authorize(start, "alice"))
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    forged = sso.get("/auth/callback?" + urlencode({**query, "state": "someone-elses-state"}))
    failed(forged, "does not belong to a sign-in this browser started (state mismatch)")
    (event,) = audit(sso)
    assert (event.actor, event.outcome) == ("anonymous", "failed")
    assert "state mismatch" in event.detail["reason"]
    assert query["code"] not in str(event.detail)
    assert web_sessions(sso) == []

    # An answer reaching a browser that started nothing (or whose cookie was altered).
    start = sso.get("/login").headers["location"]
    callback_url = local(provider.authorize(start, "alice"))
    login = sso.cookies["portal_login"]
    plant(sso, "portal_login", login[:-4] + ("AAAA" if not login.endswith("AAAA") else "BBBB"))
    failed(sso.get(callback_url), "no sign-in was under way in this browser")
    sso.cookies.delete("portal_login")
    failed(sso.get(callback_url), "no sign-in was under way in this browser")


def test_a_replayed_code_is_refused_by_the_provider(
    sso: TestClient, provider: OidcProvider
) -> None:
    start = sso.get("/login").headers["location"]
    login = sso.cookies["portal_login"]
    callback = local(provider.authorize(start, "alice"))
    assert sso.get(callback).status_code == 303
    # Replayed with everything the first answer had, the login cookie too.
    replay = TestClient(sso.app, client=("127.0.0.1", 50001), follow_redirects=False)
    replay.cookies.set("portal_login", login)
    answer = replay.get(callback)
    failed(answer, "the provider refused the sign-in code (invalid_grant")
    assert [e.outcome for e in audit(sso)] == ["ok", "failed"]
    assert "invalid_grant" in audit(sso)[-1].detail["reason"]
    assert len(web_sessions(sso)) == 1


def test_the_provider_saying_no_is_a_failed_sign_in(
    sso: TestClient, provider: OidcProvider
) -> None:
    start = sso.get("/login").headers["location"]
    denied = httpx.post(start, data={"action": "deny"})
    assert denied.status_code == 302
    failed(
        sso.get(local(denied.headers["location"])),
        "the provider refused the sign-in: access_denied",
    )


def test_an_id_token_from_another_issuer_is_refused(
    sso: TestClient, provider: OidcProvider
) -> None:
    provider.knobs(token_host="issuer.evil.example")
    answer = sign_in(sso, provider)
    failed(answer, "the ID token was issued by &#39;http://issuer.evil.example&#39;")
    assert f"not by &#39;{provider.url}&#39;" in answer.text
    assert web_sessions(sso) == []
    assert "issued by 'http://issuer.evil.example'" in audit(sso)[-1].detail["reason"]


def test_an_id_token_for_another_audience_is_refused(
    sso: TestClient, provider: OidcProvider
) -> None:
    provider.knobs(client_id="another-app")
    answer = sign_in(sso, provider)
    failed(answer, "the ID token is meant for")
    assert "another-app" in answer.text and "not for this portal (&#39;portal&#39;)" in answer.text
    assert web_sessions(sso) == []


def test_an_expired_id_token_is_refused(web_repo: Path) -> None:
    stale = OidcProvider(token_seconds=-300).start()
    try:
        with sso_client(settings_for(web_repo, **sso_settings(stale))) as client:
            failed(sign_in(client, stale), "the ID token has expired")
    finally:
        stale.stop()


def test_keys_are_read_again_when_the_provider_rotates_them(
    sso: TestClient, provider: OidcProvider
) -> None:
    assert sign_in(sso, provider).status_code == 303  # the keys are cached now
    provider.rotate_key()
    assert sign_in(sso, provider).status_code == 303


def test_an_unreachable_provider_is_said_plainly(web_repo: Path) -> None:
    nowhere = OidcProvider()  # never started: nothing listens on its address
    nowhere.url = "http://127.0.0.1:9"
    with sso_client(settings_for(web_repo, **sso_settings(nowhere))) as client:
        answer = client.get("/login")
    assert answer.status_code == 502
    assert "the provider&#39;s discovery document could not be read from" in answer.text
    assert "http://127.0.0.1:9/.well-known/openid-configuration" in answer.text


# -- where a sign-in ends up -----------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example", "/\\evil.example", "/\t/evil.example"]
)
def test_next_never_leaves_the_portal(sso: TestClient, provider: OidcProvider, target: str) -> None:
    answer = sign_in(sso, provider, next_path=target)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def test_next_keeps_local_paths_with_their_query(sso: TestClient, provider: OidcProvider) -> None:
    answer = sign_in(sso, provider, next_path="/catalog?kind=component&q=things")
    assert answer.headers["location"] == "/catalog?kind=component&q=things"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/docs/staff/", "/docs/staff/"),
        ("/", "/"),
        ("", "/"),
        ("catalog", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("/x\\y", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/\n/evil.example", "/"),
        ("/ok path", "/"),
        ("/" + "x" * 1000, "/"),
    ],
)
def test_local_path(target: str, expected: str) -> None:
    assert local_path(target) == expected


# -- start-up ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issuer", "problem"),
    [
        ("http://login.example.com", "PORTAL_OIDC_ISSUER must be an https:// URL"),
        ("http://10.0.0.5:8080/realms/x", "PORTAL_OIDC_ISSUER must be an https:// URL"),
        ("login.example.com", "PORTAL_OIDC_ISSUER is not a URL"),
        ("ftp://login.example.com", "PORTAL_OIDC_ISSUER is not a URL"),
        ("https://[::1", "PORTAL_OIDC_ISSUER is not a URL"),
    ],
)
def test_the_issuer_must_be_https(web_repo: Path, issuer: str, problem: str) -> None:
    settings = settings_for(
        web_repo,
        oidc_issuer=issuer,
        oidc_client_id="portal",
        session_secret="test-session-secret-0123456789abcdef",
    )
    with pytest.raises(ConfigError) as refused:
        create_app(settings)
    assert str(refused.value).startswith(
        f"single sign-on is configured (PORTAL_OIDC_ISSUER={issuer}) but:\n  {problem}"
    )


@pytest.mark.parametrize(
    "issuer", ["http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost"]
)
def test_plain_http_is_allowed_to_a_provider_on_loopback(web_repo: Path, issuer: str) -> None:
    settings = settings_for(
        web_repo,
        oidc_issuer=issuer,
        oidc_client_id="portal",
        session_secret="test-session-secret-0123456789abcdef",
    )
    create_app(settings, rebuild=False)


def test_single_sign_on_needs_a_client_id_and_a_session_secret(web_repo: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        create_app(settings_for(web_repo, oidc_issuer="https://login.example.com"))
    assert str(missing.value) == (
        "single sign-on is configured (PORTAL_OIDC_ISSUER=https://login.example.com) but:\n"
        "  PORTAL_OIDC_CLIENT_ID is empty (the portal's client id at the issuer)\n"
        "  PORTAL_SESSION_SECRET is empty (the key that signs session cookies)"
    )
    with pytest.raises(ConfigError) as short:
        create_app(
            settings_for(
                web_repo,
                oidc_issuer="https://login.example.com",
                oidc_client_id="portal",
                session_secret="short",
            )
        )
    assert "PORTAL_SESSION_SECRET has 5 characters; use at least 32 random ones" in str(short.value)


def test_cookies_are_secure_off_a_developers_machine(
    web_repo: Path, provider: OidcProvider
) -> None:
    settings = settings_for(web_repo, **sso_settings(provider))
    with sso_client(settings, base_url="https://portal.example") as client:
        start = client.get("/login")
        assert "Secure" in cookie_of(start, "portal_login")
        redirect_uri = parse_qs(urlsplit(start.headers["location"]).query)["redirect_uri"]
        assert redirect_uri == ["https://portal.example/auth/callback"]
        done = sign_in(client, provider)
        assert done.status_code == 303
        assert "Secure" in cookie_of(done, "portal_session")
    with sso_client(settings, client=("192.0.2.10", 40000)) as remote:
        assert "Secure" in cookie_of(remote.get("/login"), "portal_login")


@pytest.fixture
def no_sso(web_repo: Path) -> Iterator[TestClient]:
    # The development identity answers a loopback Host only.
    with sso_client(settings_for(web_repo), base_url="http://127.0.0.1:8000") as client:
        yield client


def test_without_single_sign_on_the_routes_step_aside(no_sso: TestClient) -> None:
    assert no_sso.get("/login", params={"next": "/catalog"}).headers["location"] == "/catalog"
    assert no_sso.get("/auth/callback?code=x&state=y").status_code == 404
    assert no_sso.get("/logout").headers["location"] == "/"  # the development identity
    assert no_sso.post("/logout").headers["location"] == "/"


# -- a real browser ------------------------------------------------------------------------


@pytest.fixture
def served(web_repo: Path, provider: OidcProvider) -> Iterator[str]:
    """The portal with single sign-on, served by uvicorn on a free loopback port."""
    import threading
    import time

    import uvicorn

    from tests.web.test_serve import free_port

    port = free_port()
    app = create_app(settings_for(web_repo, **sso_settings(provider)), rebuild=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_browser_signs_in_and_out(served: str, provider: OidcProvider) -> None:
    from playwright.sync_api import sync_playwright

    from tests.web.test_browser import CHROMIUM_ARGS, chromium_or_skip

    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(f"{served}/catalog")
            assert page.url.startswith(f"{provider.url}/oauth2/authorize?")
            page.fill("input[name=sub]", "alice")
            page.click("button:text('Authorize')")
            page.wait_for_url(f"{served}/catalog")
            assert page.locator(".portal-user").first.inner_text() == "Alice Liddell"

            page.click("button:text('Sign out')")
            page.wait_for_url(f"{provider.url}/oauth2/end_session?*")
            page.click("button:text('End session')")
            page.wait_for_url(f"{served}/logout")
            assert page.locator("h1").inner_text() == "Signed out"
            page.goto(f"{served}/catalog")
            assert page.url.startswith(f"{provider.url}/oauth2/authorize?")
        finally:
            browser.close()
