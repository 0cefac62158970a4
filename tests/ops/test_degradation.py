"""The database goes away and comes back, for real: a PostgreSQL server of the test's own is
stopped under a running portal and started again, and the portal is never restarted."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from portal.auth import tokens
from portal.auth.sessions import COOKIE
from portal.web.identity import development_user
from tests.auth.conftest import bearer
from tests.auth.test_access import SSO
from tests.conftest import component
from tests.oidc_provider import OidcProvider, sign_in, sso_client, sso_settings
from tests.ops.conftest import CapturedLog, settings_in
from tests.ops.postgres import LocalPostgres
from tests.web.conftest import client_for

NOT_READY = "not ready\ndatabase: failing\nsites: ok\nsearch: ok\n"


def register(client: TestClient, name: str) -> int:
    answer = client.post("/api/v1/entities", json={"descriptor": component(name)})
    return answer.status_code


def test_without_the_database_sites_stay_up_the_rest_says_503_and_all_returns(
    built_repo: Path, tmp_path: Path, postgres: LocalPostgres, json_log: CapturedLog
) -> None:
    url = postgres.create_database("degrade")
    client, _portal = client_for(settings_in(built_repo, tmp_path / "data", database_url=url))
    with client:
        assert client.get("/readyz").status_code == 200
        assert client.get("/admin/tokens").status_code == 200
        assert register(client, "before") == 201

        postgres.stop()
        try:
            # The built sites and what the portal holds in memory need no database.
            site = client.get("/docs/staff/")
            assert site.status_code == 200 and "Test Portal" in site.text
            assert client.get("/docs/partners/").status_code == 200
            assert client.get("/catalog").status_code == 200
            assert client.get("/catalog/group/default/team-a").status_code == 200
            assert client.get("/search", params={"q": "runbook"}).status_code == 200
            assert client.get("/healthz").status_code == 200
            # A page that reads the database: a clear 503 page, never a traceback.
            page = client.get("/admin/tokens", headers={"Accept": "text/html"})
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["retry-after"] == "30"
            assert "<h1>Temporarily unavailable</h1>" in page.text
            assert "database cannot be reached" in page.text
            assert f"<code>{page.headers['x-request-id']}</code>" in page.text
            assert 'href="/docs/staff/"' in page.text  # what still works
            assert "Traceback" not in page.text and "psycopg" not in page.text
            # The API answers JSON, in its usual error shape.
            api = client.post("/api/v1/entities", json={"descriptor": component("during")})
            assert api.status_code == 503
            assert api.json() == {
                "detail": "the portal's database cannot be reached; try again shortly",
                "problems": [],
            }
            assert client.get("/readyz").text == NOT_READY
            assert client.get("/readyz").status_code == 503
            metrics = client.get("/metrics").text
            assert "portal_database_unavailable_total 2.0" in metrics
        finally:
            postgres.start()

        # Back without a restart: the pool's dead connections are replaced.
        assert client.get("/admin/tokens").status_code == 200
        assert register(client, "after") == 201
        assert client.get("/readyz").status_code == 200
        # The refused registration stored nothing; the others are there.
        listed = client.get("/api/v1/entities", params={"kind": "component"}).json()
        names = {item["metadata"]["name"] for item in listed["items"]}
        assert {"before", "after"} <= names and "during" not in names
    down = [e for e in json_log.events() if e["logger"] == "portal.web.ops"]
    assert any(e["message"].startswith("the database cannot be reached") for e in down)


def test_with_single_sign_on_a_credential_that_cannot_be_checked_gets_503_not_401(
    built_repo: Path, tmp_path: Path, postgres: LocalPostgres
) -> None:
    """No memory of checked credentials here (auth_memo_seconds=0): every request with a
    credential reads the database, as the first one after the memory expires would."""
    url = postgres.create_database("degrade_sso")
    settings = settings_in(
        built_repo, tmp_path / "data", database_url=url, auth_memo_seconds=0, **SSO
    )
    client, portal = client_for(settings)
    with client:
        admin = development_user("ada@example.com")
        issued = tokens.issue(
            portal.db,
            admin,
            name="deploy",
            kind="ci",
            service="deploy",
            roles=["reader"],
            scopes=["catalog:read"],
        )
        token = bearer(issued.secret)
        assert client.get("/api/v1/entities", headers=token).status_code == 200

        postgres.stop()
        try:
            api = client.get("/api/v1/entities", headers=token)
            assert api.status_code == 503
            assert api.json()["detail"] == (
                "the credential cannot be checked while the portal's database cannot be "
                "reached; try again shortly"
            )
            page = client.get("/docs/staff/", headers=token)
            assert page.status_code == 503
            assert "Your sign-in cannot be checked" in page.text
            assert 'href="/docs/partners/"' in page.text and 'href="/docs/staff/"' not in page.text
            # A public site needs nobody's credential: served to the caller as anonymous.
            assert client.get("/docs/partners/", headers=token).status_code == 200
            # Without any credential nothing changes: sign in first (no database needed yet).
            anonymous = client.get("/docs/staff/")
            assert anonymous.status_code == 303
            assert anonymous.headers["location"].startswith("/login?next=")
        finally:
            postgres.start()

        assert client.get("/api/v1/entities", headers=token).status_code == 200


def test_a_signed_in_browser_is_not_signed_out_by_an_outage(
    built_repo: Path, tmp_path: Path, postgres: LocalPostgres, provider: OidcProvider
) -> None:
    """A real sign-in at a real OpenID provider; then the database goes away under it."""
    url = postgres.create_database("degrade_session")
    options = sso_settings(provider, database_url=url, auth_memo_seconds=0)
    with sso_client(settings_in(built_repo, tmp_path / "data", **options)) as browser:
        assert sign_in(browser, provider, "alice").status_code == 303
        assert browser.get("/docs/staff/").status_code == 200

        postgres.stop()
        try:
            page = browser.get("/docs/staff/")
            assert page.status_code == 503
            assert "Your sign-in cannot be checked" in page.text
            assert COOKIE not in page.headers.get("set-cookie", "")  # the cookie stays
            assert browser.get("/docs/partners/").status_code == 200
        finally:
            postgres.start()

        assert browser.get("/docs/staff/").status_code == 200  # the same session
