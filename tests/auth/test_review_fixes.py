"""Rules found missing in review: token scopes on pages, ownership of whole registrations,
no development identity without a peer address, private caching of internal sites."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from portal.web import create_app
from tests.auth.conftest import Admin, bearer
from tests.auth.test_access import client as header_client
from tests.conftest import component
from tests.web.conftest import BASE, settings_for


def test_a_read_only_token_cannot_register_through_the_form(admin: Admin) -> None:
    token = admin.create(name="reader", scopes=["catalog:read"])
    http = admin.http
    assert http.get("/catalog", headers=bearer(token)).status_code == 200
    form = http.post(
        "/register",
        headers=bearer(token),
        data={"descriptor": component("sneaky"), "action": "register"},
    )
    assert form.status_code == 403
    assert "catalog:write" in form.text
    assert http.get("/api/v1/entities/component/default/sneaky").status_code == 404


def test_removing_a_registration_needs_rights_on_every_entity_in_it(web_repo: Path) -> None:
    with header_client(web_repo) as http:
        admin = {"x-test-user": "ada:platform"}
        both = component("ours", owner="team-b") + "---\n" + component("theirs", owner="team-a")
        assert (
            http.post("/api/v1/entities", headers=admin, json={"descriptor": both}).status_code
            == 201
        )
        bob = {"x-test-user": "bob:team-b"}
        refused = http.delete("/api/v1/entities/component/default/ours", headers=bob)
        assert refused.status_code == 403
        assert "component:default/theirs is owned by team-a" in refused.json()["detail"]
        assert http.get("/api/v1/entities/component/default/theirs", headers=bob).status_code == 200


def test_no_development_identity_without_a_peer_address_or_behind_a_proxy(
    web_repo: Path,
) -> None:
    app = create_app(settings_for(web_repo))
    with TestClient(app, base_url=BASE, client=("127.0.0.1", 1)) as http:
        proxied = http.get("/", headers={"x-forwarded-for": "198.51.100.7"})
        assert proxied.status_code == 403

    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    import anyio

    async def call() -> None:
        async with app.router.lifespan_context(app):
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": "/",
                "raw_path": b"/",
                "query_string": b"",
                "root_path": "",
                "server": None,
                "client": None,
                "headers": [(b"host", b"127.0.0.1:8000")],
            }
            await app(scope, receive, send)  # type: ignore[arg-type]

    anyio.run(call)
    assert sent[0]["status"] == 403  # a unix socket peer is not known to be loopback


def test_internal_sites_are_never_kept_by_shared_caches(tmp_path: Path) -> None:
    from portal.sites.build import build_sites
    from tests.sites.conftest import small_repo
    from tests.web.conftest import client_for

    root = small_repo(tmp_path / "repo")
    settings = settings_for(root)
    build_sites(settings)
    http, _ = client_for(settings)
    with http:
        internal = http.get("/docs/staff/")
        assert "private" in internal.headers["cache-control"]
        css = next((root / "site" / "staff" / "assets" / "stylesheets").glob("main.*.css"))
        asset = http.get(f"/docs/staff/assets/stylesheets/{css.name}")
        assert asset.headers["cache-control"] == "private, max-age=31536000, immutable"
        public = http.get("/docs/partners/")
        assert "private" not in public.headers["cache-control"]
