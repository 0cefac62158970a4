"""API tokens through the real app: created on the admin page, used on the REST API."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from portal.auth import User, tokens
from portal.db.models import Account, ApiToken, AuditEvent, as_utc, utcnow
from tests.auth.conftest import TOKEN, Admin, bearer, csrf_field
from tests.auth.test_access import client as header_client
from tests.conftest import component
from tests.oidc_provider import USERS, OidcProvider, portal_of, sign_in
from tests.web.conftest import BASE

ALICE = User(
    subject="alice",
    name="alice",
    email="alice@x",
    groups=("team-a",),
    roles=frozenset({"reader", "contributor"}),
    via="session",
)


def token_id(token: str) -> str:
    return token.split("_")[1]


def set_token(admin: Admin, token: str, **values: object) -> None:
    """Change a stored token, as time passing or another replica would: past the few
    seconds the portal remembers a checked token, so that memory is cleared too."""
    with admin.portal.db.session() as session:
        session.execute(update(ApiToken).where(ApiToken.id == token_id(token)).values(**values))
    tokens.forget_checked()


def test_an_admin_creates_a_token_sees_it_once_and_uses_it(admin: Admin) -> None:
    http = admin.http
    page = http.get("/admin/tokens")
    assert page.status_code == 200
    assert "No tokens yet" in page.text
    token = admin.create(name="release job", scopes=["catalog:read"])
    listing = http.get("/admin/tokens").text
    assert token_id(token) in listing and "release job" in listing
    assert token not in listing and token.split("_", 2)[2] not in listing

    entities = http.get("/api/v1/entities", headers=bearer(token))
    assert entities.status_code == 200, entities.text
    assert entities.json()["total"] > 0
    row = tokens.all_tokens(admin.portal.db)[0]
    assert row.kind == "personal" and row.owner == "dev@localhost"
    assert row.scopes == ["catalog:read"]
    assert row.last_used_at is not None
    # Default expiry: 90 days.
    assert abs(as_utc(row.expires_at) - utcnow() - timedelta(days=90)) < timedelta(minutes=1)
    assert "never" not in http.get("/admin/tokens").text.split(token_id(token))[1].split("</tr>")[0]


def test_a_read_token_reads_and_cannot_write(admin: Admin) -> None:
    token = admin.create(scopes=["catalog:read"])
    http = admin.http
    assert http.get("/api/v1/entities", headers=bearer(token)).status_code == 200
    denied = http.post(
        "/api/v1/entities", headers=bearer(token), json={"descriptor": component("x")}
    )
    assert denied.status_code == 403
    assert denied.json()["detail"] == "this token lacks the catalog:write scope"


def test_a_contributors_write_token_registers_for_their_team_only(admin: Admin) -> None:
    http = admin.http
    issued = tokens.issue(
        admin.portal.db, ALICE, name="alice's laptop", kind="personal", scopes=["catalog:write"]
    )
    assert issued.token.roles == ["contributor", "reader"]
    assert issued.token.groups == ["team-a"]
    mine = http.post(
        "/api/v1/entities",
        headers=bearer(issued.secret),
        json={"descriptor": component("mine", owner="team-a")},
    )
    assert mine.status_code == 201, mine.text
    theirs = http.post(
        "/api/v1/entities",
        headers=bearer(issued.secret),
        json={"descriptor": component("theirs", owner="team-b")},
    )
    assert theirs.status_code == 403
    assert "owned by your groups (team-a)" in theirs.json()["detail"]
    # Without catalog:read, it cannot even list.
    listing = http.get("/api/v1/entities", headers=bearer(issued.secret))
    assert listing.json()["detail"] == "this token lacks the catalog:read scope"


def test_a_ci_token_acts_as_a_service_identity_with_the_chosen_roles(admin: Admin) -> None:
    token = admin.create(
        name="team-a deploy",
        kind="ci",
        service="team-a-deploy",
        groups="team-a",
        roles=["contributor"],
        scopes=["catalog:read", "catalog:write"],
    )
    http = admin.http
    registered = http.post(
        "/api/v1/entities",
        headers=bearer(token),
        json={"descriptor": component("deployed", owner="team-a")},
    )
    assert registered.status_code == 201, registered.text
    row = tokens.all_tokens(admin.portal.db)[0]
    assert (row.owner, row.roles, row.groups) == (
        "ci:team-a-deploy",
        ["contributor", "reader"],
        ["team-a"],
    )
    assert registered.json()["registered"]
    entity = http.get("/api/v1/entities/component/default/deployed", headers=bearer(token))
    assert entity.json()["source"]["registered_by"] == "ci:team-a-deploy"


@pytest.mark.parametrize(
    ("credential", "reason"),
    [
        ("qp_nonsense", "malformed token (expected Bearer qp_<id>_<secret>)"),
        ("", "malformed token (expected Bearer qp_<id>_<secret>)"),
        ("qp_0123456789abcdef_" + "A" * 43, "unknown token"),
    ],
)
def test_malformed_and_unknown_tokens_are_refused(
    admin: Admin, credential: str, reason: str
) -> None:
    for path in ("/api/v1/entities", "/catalog"):  # never the development identity instead
        response = admin.http.get(path, headers=bearer(credential))
        assert response.status_code == 401
        assert response.json()["detail"] == reason
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_secret_for_a_real_id_is_an_unknown_token(admin: Admin) -> None:
    token = admin.create()
    wrong = f"qp_{token_id(token)}_" + "B" * 43
    response = admin.http.get("/api/v1/entities", headers=bearer(wrong))
    assert (response.status_code, response.json()["detail"]) == (401, "unknown token")


def test_expired_and_revoked_tokens_are_refused_with_the_reason(admin: Admin) -> None:
    http = admin.http
    expired = admin.create(name="old")
    set_token(admin, expired, expires_at=utcnow() - timedelta(seconds=1))
    response = http.get("/api/v1/entities", headers=bearer(expired))
    assert (response.status_code, response.json()["detail"]) == (401, "token expired")
    assert response.headers["www-authenticate"].startswith("Bearer")

    revoked = admin.create(name="leaked")
    assert http.get("/api/v1/entities", headers=bearer(revoked)).status_code == 200
    admin.revoke(token_id(revoked))
    response = http.get("/api/v1/entities", headers=bearer(revoked))
    assert (response.status_code, response.json()["detail"]) == (401, "token revoked")
    listing = http.get("/admin/tokens?revoked=" + token_id(revoked)).text
    assert f"Revoked token <code>{token_id(revoked)}</code>" in listing
    assert "expired" in listing and "revoked" in listing


def test_revoking_an_unknown_token_says_so(admin: Admin) -> None:
    form = admin.http.get("/admin/tokens")
    response = admin.http.post("/admin/tokens/nope/revoke", data=csrf_field(form.text))
    assert response.status_code == 404
    assert "There is no token nope." in response.text


def test_tokens_are_stored_only_as_a_hash(admin: Admin, web_repo: Path) -> None:
    token = admin.create(name="scan me")
    assert admin.http.get("/api/v1/entities", headers=bearer(token)).status_code == 200
    secret = token.split("_", 2)[2]
    database = sqlite3.connect(web_repo / "data" / "portal.db")
    try:
        tables = [
            r[0] for r in database.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        text = "\n".join(
            repr(row) for table in tables for row in database.execute(f'SELECT * FROM "{table}"')
        )
    finally:
        database.close()
    assert "api_tokens" in tables and "audit_log" in tables
    assert token_id(token) in text  # the scan sees the rows
    assert tokens.hash_secret(secret) in text
    assert secret not in text
    assert secret[:16] not in text


def test_failed_attempts_are_rate_limited_per_address(admin: Admin) -> None:
    http = admin.http
    good = admin.create()
    # Used once before the guessing: remembered as checked, which must not let it past.
    assert http.get("/api/v1/entities", headers=bearer(good)).status_code == 200
    for attempt in range(tokens.FAILURES_PER_MINUTE):
        guess = f"qp_{attempt:016x}_" + "C" * 43
        assert http.get("/api/v1/entities", headers=bearer(guess)).status_code == 401
    blocked = http.get("/api/v1/entities", headers=bearer("qp_" + "d" * 16 + "_" + "D" * 43))
    assert blocked.status_code == 429
    assert blocked.json()["detail"].startswith("too many failed token attempts")
    # Even a right token is refused from that address, so a right guess looks like a wrong one.
    assert http.get("/api/v1/entities", headers=bearer(good)).status_code == 429
    # Requests without a token are not affected, nor are other addresses.
    assert http.get("/api/v1/entities").status_code == 200
    other = TestClient(http.app, base_url=BASE, client=("127.0.0.2", 50000))
    assert other.get("/api/v1/entities", headers=bearer(good)).status_code == 200


def test_use_is_recorded_at_most_once_a_minute(admin: Admin) -> None:
    http = admin.http
    token = admin.create()

    def uses() -> int:
        with admin.portal.db.session() as session:
            found = session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "token.use", AuditEvent.outcome == "ok"
                )
            )
            return len(list(found))

    for _ in range(3):
        assert http.get("/api/v1/entities", headers=bearer(token)).status_code == 200
    assert uses() == 1
    earlier = utcnow() - timedelta(minutes=2)
    set_token(admin, token, last_used_at=earlier)
    assert http.get("/api/v1/entities", headers=bearer(token)).status_code == 200
    assert uses() == 2
    row = tokens.all_tokens(admin.portal.db)[0]
    assert row.last_used_at is not None and as_utc(row.last_used_at) > earlier


def test_the_form_reports_every_problem_at_once(admin: Admin) -> None:
    http = admin.http
    csrf = csrf_field(http.get("/admin/tokens").text)
    response = http.post(
        "/admin/tokens",
        data={
            "name": " ",
            "kind": "ci",
            "service": "Not A Name",
            "groups": "team-a, bad/group",
            "roles": ["owner"],
            "scopes": ["catalog:delete"],
            "days": "400",
            **csrf,
        },
    )
    assert response.status_code == 422
    for message in (
        "name: give the token a name that says what it is for",
        "scopes: catalog:delete is not a scope (expected catalog:read, catalog:write, "
        "scorecards:write)",
        "days: a token expires after 1 to 365 days, not 400",
        "service: &#39;Not A Name&#39; is not a service identity name",
        "groups: &#39;bad/group&#39; is not a group name",
        "roles: &#39;owner&#39; is not a role",
    ):
        assert message in response.text
    # What was typed stays in the form.
    assert 'value="team-a, bad/group"' in response.text
    days = http.post("/admin/tokens", data={"name": "x", "days": "soon", **csrf})
    assert days.status_code == 422
    assert "days: &#39;soon&#39; is not a whole number of days (1 to 365)" in days.text
    assert tokens.all_tokens(admin.portal.db) == []


def test_tokens_never_exceed_their_creators_roles(admin: Admin) -> None:
    db = admin.portal.db
    with pytest.raises(tokens.TokenRefused) as refused:
        tokens.issue(
            db,
            ALICE,
            name="sneaky",
            kind="ci",
            service="sneaky",
            roles=["admin", "contributor"],
            scopes=["catalog:write"],
        )
    assert refused.value.problems == [
        "roles: you cannot give the admin role, which you do not have"
    ]
    with pytest.raises(tokens.TokenRefused) as chained:
        token_user = tokens.user_of(
            tokens.issue(db, ALICE, name="t", kind="personal", scopes=["catalog:read"]).token
        )
        tokens.issue(db, token_user, name="t2", kind="personal", scopes=["catalog:read"])
    assert chained.value.problems == [
        "sign in to create tokens: a token cannot create another token"
    ]
    with pytest.raises(tokens.TokenRefused) as forever:
        tokens.issue(db, ALICE, name="t", kind="personal", scopes=["catalog:read"], days=366)
    assert forever.value.problems == ["days: a token expires after 1 to 365 days, not 366"]


ADMIN_PAGES = ["/admin", "/admin/tokens", "/admin/audit", "/admin/audit.csv", "/admin/audit.json"]


def test_only_admins_reach_the_admin_pages(web_repo: Path) -> None:
    with header_client(web_repo) as http:
        reader = {"x-test-user": "rita:team-a"}
        for path in ADMIN_PAGES:
            response = http.get(path, headers=reader)
            assert response.status_code == 403, path
            assert "this needs the admin role; you have contributor, reader" in response.text
        assert http.post("/admin/tokens", headers=reader, data={"name": "x"}).status_code == 403
        assert http.post("/admin/tokens/abc/revoke", headers=reader).status_code == 403
        assert http.get("/admin/tokens").status_code == 303  # anonymous: sign in first
        assert 'href="/admin/tokens">Admin' not in http.get("/catalog", headers=reader).text

        ada = {"x-test-user": "ada:platform"}
        assert http.get("/admin/audit", headers=ada).status_code == 200
        assert 'href="/admin/tokens">Admin' in http.get("/catalog", headers=ada).text
        form = http.get("/admin/tokens", headers=ada)
        created = http.post(
            "/admin/tokens",
            headers=ada,
            data={"name": "ada's", "scopes": ["catalog:read"], **csrf_field(form.text)},
        )
        assert created.status_code == 201
        found = TOKEN.search(created.text)
        assert found is not None
        token = found.group(0)
        row = tokens.all_tokens(http.app.state.portal.db)[0]  # type: ignore[attr-defined]
        assert (row.owner, row.roles, row.groups) == ("ada@x", ["admin", "reader"], ["platform"])
        # The token is an admin too, but the admin pages are for people.
        for path in ADMIN_PAGES:
            response = http.get(path, headers=bearer(token))
            assert response.status_code == 403, path
            assert "not for API tokens" in response.text
        assert http.get("/api/v1/entities", headers=bearer(token)).status_code == 200


def with_role_groups(client: TestClient) -> None:
    """The portal's token authenticator, told the settings' role groups."""
    portal = portal_of(client)
    portal.authenticators[:] = [
        tokens.TokenAuthenticator(portal.db, role_groups=portal.settings.role_groups)
        if isinstance(a, tokens.TokenAuthenticator)
        else a
        for a in portal.authenticators
    ]


def test_a_personal_token_holds_no_more_than_its_creator_now_does(
    sso: TestClient, provider: OidcProvider
) -> None:
    with_role_groups(sso)
    sign_in(sso, provider, "alice")  # team-a and platform: contributor and admin
    token = Admin(sso).create(name="laptop", scopes=["catalog:write"])
    (row,) = tokens.all_tokens(portal_of(sso).db)
    assert (row.roles, row.groups) == (["admin", "contributor", "reader"], ["team-a", "platform"])

    def register(name: str, owner: str) -> tuple[int, str]:
        answer = sso.post(
            "/api/v1/entities",
            headers=bearer(token),
            json={"descriptor": component(name, owner=owner)},
        )
        return answer.status_code, str(answer.json().get("detail", ""))

    assert register("first", "team-b")[0] == 201  # an admin registers for any team

    # Out of platform at the provider, and signed in since: the token is no admin now.
    provider.put_user("alice", {**USERS["alice"], "groups": ["team-a"]})
    sign_in(sso, provider, "alice")
    status, detail = register("second", "team-b")
    assert status == 403
    assert "owned by your groups (team-a)" in detail
    assert register("third", "team-a")[0] == 201

    # Out of every group: a reader, whatever the token was given.
    provider.put_user("alice", {**USERS["alice"], "groups": []})
    sign_in(sso, provider, "alice")
    assert register("fourth", "team-a") == (
        403,
        "this needs the contributor role; you have reader",
    )


def test_a_personal_token_never_gains_what_its_creator_gains(admin: Admin) -> None:
    issued = tokens.issue(
        admin.portal.db, ALICE, name="laptop", kind="personal", scopes=["catalog:read"]
    )
    now = Account(subject="issuer#alice", email="alice@x", groups=["team-a", "platform", "new"])
    role_groups = {"contributor": ["team-a"], "admin": ["platform"]}
    user = tokens.user_of(issued.token, now, role_groups)
    assert (user.roles, user.groups) == (frozenset({"contributor", "reader"}), ("team-a",))
    # Without an account (the development identity never signs in): as it was given.
    user = tokens.user_of(issued.token, None, role_groups)
    assert (user.roles, user.groups) == (frozenset({"contributor", "reader"}), ("team-a",))
