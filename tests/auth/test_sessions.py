"""Browser sessions in the real app: tampering, idle and absolute timeouts, refresh, sign-out.

Time is never mocked: the stored timestamps are set back in the real SQLite database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select
from starlette.testclient import TestClient

from portal.auth.sessions import Sealer
from portal.db.models import AuditEvent, WebSession
from tests.auth.conftest import csrf_field
from tests.oidc_provider import OidcProvider, portal_of, sign_in


def row(client: TestClient) -> WebSession | None:
    with portal_of(client).db.session() as db:
        return db.scalars(select(WebSession)).one_or_none()


def opened(client: TestClient, stored: WebSession) -> tuple[str | None, str | None]:
    """The refresh and ID tokens a stored session holds, opened as the portal opens them."""
    sessions = client.app.state.signin.sessions  # type: ignore[attr-defined]
    return (
        sessions.sealer.open(stored.refresh_token, f"{stored.id_hash}:refresh_token"),
        sessions.sealer.open(stored.id_token, f"{stored.id_hash}:id_token"),
    )


def change(client: TestClient, **fields: object) -> None:
    """Set columns of the one stored session (timestamps go back, tokens go away).

    Setting the clock back stands for time passing, longer than the few seconds the
    portal remembers a checked session: that memory is cleared too.
    """
    with portal_of(client).db.session() as db:
        stored = db.scalars(select(WebSession)).one()
        for name, value in fields.items():
            setattr(stored, name, value)
    client.app.state.signin.sessions.memo.forget(stored.id_hash)  # type: ignore[attr-defined]


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def ended(client: TestClient) -> list[AuditEvent]:
    with portal_of(client).db.session() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == "session.end")))


def assert_signed_out(client: TestClient) -> None:
    """The next page sends the browser to sign in, the cookie is dropped, the row is gone."""
    page = client.get("/catalog")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fcatalog"
    assert 'portal_session=""' in page.headers["set-cookie"]
    assert "Max-Age=0" in page.headers["set-cookie"]
    assert "portal_session" not in client.cookies
    assert row(client) is None


def test_a_tampered_cookie_opens_nothing(sso: TestClient, provider: OidcProvider) -> None:
    sign_in(sso, provider)
    value = sso.cookies["portal_session"]
    session_id, _, signature = value.rpartition(".")
    for forged in (
        f"{session_id[:-1]}{'A' if session_id[-1] != 'A' else 'B'}.{signature}",
        f"{session_id}.{signature[::-1]}",
        session_id,
        "",
    ):
        sso.cookies.delete("portal_session")
        sso.cookies.set("portal_session", forged, domain="testserver.local")
        page = sso.get("/catalog")
        assert page.status_code == 303, forged
        assert "Max-Age=0" in page.headers["set-cookie"]
    assert row(sso) is not None  # a forged cookie ends nothing
    # The API says 401 to the same cookie, and drops it too.
    sso.cookies.set("portal_session", f"{session_id}.x", domain="testserver.local")
    api = sso.get("/api/v1/entities")
    assert api.status_code == 401
    assert "portal_session=" in api.headers["set-cookie"]


def test_an_idle_session_ends(sso: TestClient, provider: OidcProvider) -> None:
    sign_in(sso, provider)
    change(sso, last_seen_at=ago(minutes=61))  # PORTAL_SESSION_IDLE_MINUTES=60
    assert_signed_out(sso)
    (event,) = ended(sso)
    assert event.actor == "alice@example.com"
    assert event.detail == {"reason": "the session was idle for 60 minutes"}


def test_a_session_ends_after_its_lifetime_however_busy(
    sso: TestClient, provider: OidcProvider
) -> None:
    sign_in(sso, provider)
    change(sso, created_at=ago(hours=12, seconds=5), last_seen_at=ago(seconds=5))
    assert_signed_out(sso)
    assert ended(sso)[0].detail == {"reason": "the session is older than 12 hours"}


def test_activity_is_written_at_most_once_a_minute(sso: TestClient, provider: OidcProvider) -> None:
    sign_in(sso, provider)
    stored = row(sso)
    assert stored is not None
    first_seen = stored.last_seen_at
    assert sso.get("/catalog").status_code == 200
    again = row(sso)
    assert again is not None and again.last_seen_at == first_seen

    change(sso, last_seen_at=ago(minutes=59))  # still within the idle timeout
    assert sso.get("/catalog").status_code == 200
    touched = row(sso)
    assert touched is not None
    assert touched.last_seen_at.replace(tzinfo=UTC) > ago(seconds=30)


def test_an_expired_id_token_is_refreshed(sso: TestClient, provider: OidcProvider) -> None:
    sign_in(sso, provider)
    change(sso, id_token_expires_at=ago(seconds=1))
    page = sso.get("/catalog")
    assert page.status_code == 200
    assert "Alice Liddell" in page.text
    refreshed = row(sso)
    assert refreshed is not None and refreshed.id_token_expires_at is not None
    assert refreshed.id_token_expires_at.replace(tzinfo=UTC) > datetime.now(UTC)
    grant = provider.token_requests()[-1]
    assert grant["grant_type"] == "refresh_token"
    assert grant["refresh_token"] == opened(sso, refreshed)[0]
    assert "scope" not in grant  # the same scopes as at sign-in
    assert ended(sso) == []


def test_provider_tokens_are_stored_sealed(sso: TestClient, provider: OidcProvider) -> None:
    sign_in(sso, provider)
    stored = row(sso)
    assert stored is not None and stored.refresh_token and stored.id_token
    refresh_token, id_token = opened(sso, stored)
    assert refresh_token and id_token and id_token.startswith("eyJ")
    for token in (refresh_token, id_token):
        assert token not in (stored.refresh_token, stored.id_token)
        assert token[:12] not in stored.refresh_token + stored.id_token
    # Without the session secret they open to nothing, and a value moved to another
    # column (or row) does not open either.
    other = Sealer("another-session-secret-0123456789abcdef", "web_sessions")
    assert other.open(stored.refresh_token, f"{stored.id_hash}:refresh_token") is None
    sessions = sso.app.state.signin.sessions  # type: ignore[attr-defined]
    assert sessions.sealer.open(stored.refresh_token, f"{stored.id_hash}:id_token") is None

    # The sealed refresh token is the one sent to the provider, and the new one is sealed.
    change(sso, id_token_expires_at=ago(seconds=1))
    assert sso.get("/catalog").status_code == 200
    assert provider.token_requests()[-1]["refresh_token"] == refresh_token
    refreshed = row(sso)
    assert refreshed is not None and refreshed.refresh_token != stored.refresh_token
    assert opened(sso, refreshed)[0] not in (None, refreshed.refresh_token)


def test_a_refresh_token_stored_in_clear_is_not_used(
    sso: TestClient, provider: OidcProvider
) -> None:
    sign_in(sso, provider)
    stored = row(sso)
    assert stored is not None
    refresh_token, _ = opened(sso, stored)
    change(sso, id_token_expires_at=ago(seconds=1), refresh_token=refresh_token)
    assert_signed_out(sso)
    reason = "the sign-in expired and its refresh token cannot be read"
    assert ended(sso)[0].detail == {"reason": reason}


def test_without_a_refresh_token_an_expired_sign_in_ends(
    sso: TestClient, provider: OidcProvider
) -> None:
    sign_in(sso, provider)
    change(sso, id_token_expires_at=ago(seconds=1), refresh_token=None)
    assert_signed_out(sso)
    reason = "the sign-in expired and the provider gave no refresh token"
    assert ended(sso)[0].detail == {"reason": reason}


def test_a_refused_refresh_ends_the_session(sso: TestClient, provider: OidcProvider) -> None:
    sign_in(sso, provider, "bob")
    provider.revoke_tokens("bob")  # say, the account was disabled at the provider
    change(sso, id_token_expires_at=ago(seconds=1))
    assert_signed_out(sso)
    (event,) = ended(sso)
    assert (event.actor, event.outcome) == ("bob@partner.example", "failed")
    assert event.detail["reason"].startswith("the refresh failed: the provider refused")
    assert "invalid_grant" in event.detail["reason"]


def test_signing_out_ends_both_sessions(sso: TestClient, provider: OidcProvider) -> None:
    sign_in(sso, provider)
    stored = row(sso)
    assert stored is not None
    confirm = sso.get("/logout")
    assert confirm.status_code == 200
    assert 'action="/logout"' in confirm.text
    token = csrf_field(confirm.text)
    assert token == {"csrf": stored.csrf_token}

    out = sso.post("/logout", data=token)
    assert out.status_code == 303
    end = urlsplit(out.headers["location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{provider.url}/oauth2/end_session"
    query = {k: v[0] for k, v in parse_qs(end.query).items()}
    assert query == {
        "client_id": "portal",
        "id_token_hint": opened(sso, stored)[1],
        "post_logout_redirect_uri": "http://testserver/logout",
    }
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert row(sso) is None
    # The provider offers to end its session and come back to the portal.
    assert "http://testserver/logout" in httpx.get(out.headers["location"]).text
    with portal_of(sso).db.session() as db:
        (event,) = db.scalars(select(AuditEvent).where(AuditEvent.action == "logout"))
    assert (event.actor, event.outcome) == ("alice@example.com", "ok")

    assert sso.get("/catalog").status_code == 303
    back = sso.get("/logout")
    assert back.status_code == 200 and "Signed out" in back.text


def test_a_sign_out_post_needs_the_csrf_token(sso: TestClient, provider: OidcProvider) -> None:
    sign_in(sso, provider)
    refused = sso.post("/logout", headers={"Accept": "text/html"})
    assert refused.status_code == 403
    assert "lacks its CSRF token" in refused.text
    assert row(sso) is not None


def test_a_checked_session_is_remembered_briefly_and_forgotten_at_sign_out(
    sso: TestClient, provider: OidcProvider
) -> None:
    sign_in(sso, provider)
    assert sso.get("/catalog").status_code == 200
    stored = row(sso)
    assert stored is not None
    memo = sso.app.state.signin.sessions.memo  # type: ignore[attr-defined]
    assert memo.get(stored.id_hash) is not None  # the next request reads no table
    with portal_of(sso).db.session() as db:  # ended elsewhere (another replica)
        db.delete(db.get(WebSession, stored.id_hash))
    assert sso.get("/catalog").status_code == 200  # for at most auth_memo_seconds
    memo.forget(stored.id_hash)  # ...after which this replica reads the row again
    assert sso.get("/catalog").status_code == 303
