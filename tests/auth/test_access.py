"""Every route declares who may use it, and the rules hold through the real app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.requests import HTTPConnection
from starlette.routing import Mount
from starlette.testclient import TestClient

from portal.auth import User, roles_for
from portal.auth.access import rule_of
from portal.web import create_app
from tests.conftest import component
from tests.web.conftest import BASE, LOOPBACK, settings_for

# Single sign-on settings that pass start-up checks (the issuer is never reached here).
SSO = {
    "oidc_issuer": "https://issuer.invalid",
    "oidc_client_id": "portal",
    "session_secret": "s" * 32,
}

# Routes that answer without a signed-in user, and why.
PUBLIC = {
    "/healthz": "liveness probe",
    "/readyz": "readiness probe (says which check fails, never why)",
    "/metrics": "Prometheus scrape: its own rule, the metrics token or an allowed network",
    "/static/material/{path:path}": "the sites' stylesheets and icons",
    "/static/portal/{path:path}": "the portal's stylesheet",
    "/favicon.ico": "browsers ask for it",
    "/docs": "redirect to the audience picker",
    "/docs/": "redirect to the audience picker",
    "/docs/{audience}": "redirect to the site's home",
    "/login": "where signing in starts",
    "/auth/callback": "the provider's answer comes back here before anyone is signed in",
    "/logout": "signing out (a session's sign-out post carries its CSRF token)",
}

# Live status routes (portal/web/live.py): they call live services, so a signed-in reader only.
LIVE = {
    "/live/status": "role:reader scope:catalog:read",
    "/catalog/{kind}/{namespace}/{name}/probe": "role:reader scope:catalog:read",
    "/catalog/{kind}/{namespace}/{name}/try": "role:reader scope:catalog:read",
}

# Scorecard pages, exports and API (portal/web/scorecards.py, scorecards_api.py): scores are
# catalog data, so the catalog's rule; partners and anonymous callers see none.
SCORECARDS = dict.fromkeys(
    (
        "/scorecards",
        "/scorecards/{name}",
        "/scorecards/{name}/owners/{kind}/{namespace}/{owner}",
        "/scorecards/{name}/results.csv",
        "/scorecards/{name}/results.json",
        "/api/v1/scorecards",
        "/api/v1/scorecards/{name}",
        "/api/v1/scorecards/{name}/results",
        "/api/v1/scorecards/{name}/history",
        "/api/v1/scorecards/entities/{kind}/{namespace}/{name}",
        "/api/v1/scorecards/{name}/entities/{kind}/{namespace}/{entity}/history",
    ),
    "role:reader scope:catalog:read",
)


def routes(app: FastAPI, prefix: str = "") -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for route in app.routes:
        if isinstance(route, Mount):
            found += routes(route.app, prefix + route.path)  # type: ignore[arg-type]
        elif hasattr(route, "original_router"):  # FastAPI's include_router (no prefix here)
            found += routes(route.original_router, prefix)
        else:
            found.append((prefix + getattr(route, "path", "?"), route))
    return found


def test_every_route_has_an_explicit_access_rule(web_repo: Path) -> None:
    app = create_app(settings_for(web_repo))
    missing = [path for path, route in routes(app) if rule_of(route) is None]
    assert missing == [], f"routes without an access rule (see portal/auth/access.py): {missing}"
    public = {path for path, route in routes(app) if rule_of(route) == "public"}
    assert public <= set(PUBLIC), f"public routes nobody listed as public: {public - set(PUBLIC)}"


class HeaderUser:
    """Recognises ``X-Test-User: name:group,group``: a real authenticator in the chain."""

    def __call__(self, connection: HTTPConnection) -> User | None:
        value = connection.headers.get("x-test-user")
        if not value:
            return None
        name, _, groups = value.partition(":")
        members = tuple(g for g in groups.split(",") if g)
        roles = roles_for(members, {"contributor": ["team-a", "team-b"], "admin": ["platform"]})
        return User(
            subject=name, name=name, email=f"{name}@x", groups=members, roles=roles, via="session"
        )


def client(web_repo: Path) -> TestClient:
    app = create_app(settings_for(web_repo, **SSO))
    app.state.portal.authenticators.append(HeaderUser())
    return TestClient(app, base_url=BASE, client=LOOPBACK, follow_redirects=False)


def test_with_sso_configured_anonymous_callers_get_nothing_internal(web_repo: Path) -> None:
    with client(web_repo) as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/api/v1/entities").status_code == 401
        assert anonymous.get("/api/v1/openapi.json").status_code == 401
        page = anonymous.get("/catalog")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=%2Fcatalog"
        assert anonymous.get("/docs/staff/").status_code == 303
        # The public audience is public.
        assert anonymous.get("/docs/partners/").status_code in (200, 404)


def test_roles_decide_and_the_answer_says_why(web_repo: Path) -> None:
    with client(web_repo) as http:
        reader = {"x-test-user": "rita:"}
        assert http.get("/api/v1/entities", headers=reader).status_code == 200
        denied = http.post("/api/v1/entities", headers=reader, json={"descriptor": component("x")})
        assert denied.status_code == 403
        assert "contributor role" in denied.json()["detail"]
        assert http.get("/register", headers=reader).status_code == 403


def test_contributors_change_only_what_their_groups_own(web_repo: Path) -> None:
    with client(web_repo) as http:
        bob = {"x-test-user": "bob:team-b"}
        theirs = http.post(
            "/api/v1/entities", headers=bob, json={"descriptor": component("x", owner="team-a")}
        )
        assert theirs.status_code == 403
        assert "owned by your groups (team-b)" in theirs.json()["detail"]
        alice = {"x-test-user": "alice:team-a"}
        mine = http.post(
            "/api/v1/entities", headers=alice, json={"descriptor": component("y", owner="team-a")}
        )
        assert mine.status_code == 201, mine.text
        assert http.delete("/api/v1/entities/component/default/y", headers=bob).status_code == 403
        admin = {"x-test-user": "ada:platform"}
        gone = http.delete("/api/v1/entities/component/default/y", headers=admin)
        assert gone.status_code == 200


def test_live_routes_need_a_signed_in_reader(web_repo: Path) -> None:
    app = create_app(settings_for(web_repo))
    rules = {path: rule_of(route) for path, route in routes(app) if path in LIVE}
    assert rules == LIVE
    with client(web_repo) as http:
        for anonymous in (
            http.get("/live/status"),
            http.post("/catalog/component/default/things-service/probe"),
            http.get("/catalog/component/default/things-service/try"),
        ):
            assert anonymous.status_code == 303  # off to sign in
            assert anonymous.headers["location"].startswith("/login?next=")
        assert http.get("/live/status", headers={"x-test-user": "rita:"}).status_code == 200


def test_scorecard_routes_need_a_signed_in_reader(web_repo: Path) -> None:
    app = create_app(settings_for(web_repo))
    found = {path: rule_of(route) for path, route in routes(app) if "scorecards" in path}
    assert found == SCORECARDS
    with client(web_repo) as http:
        assert http.app.state.portal.scorecards.wait_idle(60)  # type: ignore[attr-defined]
        for page in ("/scorecards", "/scorecards/any", "/scorecards/any/results.csv"):
            refused = http.get(page)
            assert refused.status_code == 303  # off to sign in
            assert refused.headers["location"].startswith("/login?next=")
        for url in ("/api/v1/scorecards", "/api/v1/scorecards/any/results"):
            assert http.get(url).status_code == 401
        reader = {"x-test-user": "rita:"}
        assert http.get("/scorecards", headers=reader).status_code == 200
        assert http.get("/api/v1/scorecards", headers=reader).json()["items"] == []


def test_a_page_served_from_memory_still_answers_only_its_readers(tmp_path: Path) -> None:
    """Pages read once are answered from memory on the event loop: the access rule is
    the same there as on the first read."""
    from portal.sites.build import build_sites
    from tests.sites.conftest import small_repo

    root = small_repo(tmp_path / "repo")
    root.joinpath("mkdocs.yml").write_text(
        root.joinpath("mkdocs.yml")
        .read_text(encoding="utf-8")
        .replace(
            "          catalog: {kinds: [component, api, group]}\n",
            "          catalog: {kinds: [component, api, group]}\n          access: [admin]\n",
        ),
        encoding="utf-8",
    )
    settings = settings_for(root, **SSO)
    build_sites(settings)
    app = create_app(settings)
    app.state.portal.authenticators.append(HeaderUser())
    with TestClient(app, base_url=BASE, client=LOOPBACK, follow_redirects=False) as http:
        rita, ada = {"x-test-user": "rita:"}, {"x-test-user": "ada:platform"}
        first = http.get("/docs/staff/", headers=rita)
        assert first.status_code == 200
        again = http.get("/docs/staff/", headers=rita)  # from memory now
        assert (again.status_code, again.content) == (200, first.content)
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["content-security-policy"] == first.headers["content-security-policy"]
        fresh = http.get("/docs/staff/", headers={**rita, "if-none-match": first.headers["etag"]})
        assert fresh.status_code == 304
        anonymous = http.get("/docs/staff/")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/login?next=%2Fdocs%2Fstaff%2F"
        # builders is for admins: a reader is refused once an admin's read put it in memory.
        assert http.get("/docs/builders/", headers=ada).status_code == 200
        refused = http.get("/docs/builders/", headers=rita)
        assert refused.status_code == 403
        assert b"SECRET-INTERNAL-MARKER" not in refused.content
        assert http.get("/docs/partners/").status_code == 200  # the public site stays public
