"""The audit log through the real app: token events recorded, browsed, filtered, exported."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from portal.auth import audit
from portal.db.models import AuditEvent
from portal.web.admin import csv_cell
from tests.auth.conftest import Admin, bearer


def exported(admin: Admin, query: str = "") -> list[dict[str, Any]]:
    response = admin.http.get("/admin/audit.json" + query)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    events: list[dict[str, Any]] = json.loads(response.text)
    return events


def rows(admin: Admin, query: str = "") -> list[dict[str, str]]:
    response = admin.http.get("/admin/audit.csv" + query)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="audit-')
    return list(csv.DictReader(io.StringIO(response.text)))


def add(admin: Admin, at: datetime, **fields: str) -> None:
    """An event at a chosen time, straight into the table."""
    values = {"actor": "seed@x", "action": "seed", "target": "", "outcome": "ok", **fields}
    with admin.portal.db.session() as session:
        session.add(AuditEvent(at=at, source="10.0.0.1", detail={}, **values))


def test_token_creation_use_revocation_and_failures_are_audited(admin: Admin) -> None:
    token = admin.create(name="audited", scopes=["catalog:read"])
    token_id = token.split("_")[1]
    http = admin.http
    assert http.get("/api/v1/entities", headers=bearer(token)).status_code == 200
    wrong = f"qp_{token_id}_" + "W" * 43
    assert http.get("/api/v1/entities", headers=bearer(wrong)).status_code == 401
    assert http.get("/api/v1/entities", headers=bearer("garbage")).status_code == 401
    admin.revoke(token_id)
    assert http.get("/api/v1/entities", headers=bearer(token)).status_code == 401

    events = exported(admin, "?action=token")
    summary = [(e["action"], e["outcome"], e["actor"], e["target"]) for e in events]
    target = f"token:{token_id}"
    assert summary == [
        ("token.use", "failed", "dev@localhost", target),  # revoked: the owner is known
        ("token.revoke", "ok", "dev@localhost", target),
        ("token.use", "failed", "anonymous", ""),  # malformed: no id to name
        ("token.use", "failed", "anonymous", target),  # wrong secret
        ("token.use", "ok", "dev@localhost", target),
        ("token.create", "ok", "dev@localhost", target),
    ]
    assert [e["detail"].get("reason") for e in events if e["outcome"] == "failed"] == [
        "token revoked",
        "malformed token (expected Bearer qp_<id>_<secret>)",
        "unknown token",
    ]
    assert {e["source"] for e in events} == {"127.0.0.1"}
    created = events[-1]["detail"]
    assert created["name"] == "audited" and created["scopes"] == ["catalog:read"]
    assert created["kind"] == "personal" and created["expires_at"]
    assert datetime.fromisoformat(events[0]["at"]).tzinfo is not None
    secret = token.split("_", 2)[2]
    assert secret not in json.dumps(events)
    # Exporting is itself recorded, with its filters.
    exports = [(e["action"], e["detail"]) for e in exported(admin, "?action=audit")]
    assert exports == [
        ("audit.export", {"format": "json", "filters": {"action": "audit"}}),
        ("audit.export", {"format": "json", "filters": {"action": "token"}}),
    ]


def test_the_page_shows_newest_first_and_pages_with_links(admin: Admin) -> None:
    for n in range(7):
        audit.record(admin.portal.db, "seed.step", actor=f"user{n}@x", target=f"thing-{n}")
    http = admin.http
    first = http.get("/admin/audit?action=seed&limit=3")
    assert first.status_code == 200
    assert [f"thing-{n}" in first.text for n in (6, 5, 4, 3)] == [True, True, True, False]
    assert "← Newer" not in first.text
    older = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    older = older.replace("&amp;", "&")
    second = http.get(older)
    assert [f"thing-{n}" in second.text for n in (4, 3, 2, 1, 0)] == [
        False,
        True,
        True,
        True,
        False,
    ]
    assert "← Newer" in second.text
    newer = second.text.split('rel="prev"')[0].rsplit('href="', 1)[1].split('"')[0]
    back = http.get(newer.replace("&amp;", "&"))
    assert [f"thing-{n}" in back.text for n in (6, 5, 4, 3)] == [True, True, True, False]
    # The export links keep the filters.
    assert 'href="/admin/audit.csv?action=seed"' in first.text
    assert 'href="/admin/audit.json?action=seed"' in first.text


def test_filters_apply_to_the_page_and_both_exports(admin: Admin) -> None:
    add(admin, datetime(2026, 1, 10, 9, 0, tzinfo=UTC), actor="alice@x", action="login")
    add(admin, datetime(2026, 1, 10, 23, 59, tzinfo=UTC), actor="bob@x", action="login")
    add(admin, datetime(2026, 1, 11, 0, 1, tzinfo=UTC), actor="Alice@x", action="login.failed")
    add(admin, datetime(2026, 1, 12, 8, 0, tzinfo=UTC), actor="alice@x", action="logout")
    add(
        admin,
        datetime(2026, 1, 12, 9, 0, tzinfo=UTC),
        actor="alice@x",
        action="login",
        outcome="denied",
    )

    def actors(query: str) -> list[tuple[str, str]]:
        json_events = [(e["actor"], e["action"]) for e in exported(admin, query)]
        csv_events = [(r["actor"], r["action"]) for r in rows(admin, query)]
        assert json_events == csv_events
        return json_events

    assert actors("?since=2026-01-10&until=2026-01-10") == [
        ("bob@x", "login"),
        ("alice@x", "login"),
    ]
    assert actors("?actor=ALICE&action=login&until=2026-01-11") == [
        ("Alice@x", "login.failed"),
        ("alice@x", "login"),
    ]
    assert actors("?outcome=denied") == [("alice@x", "login")]
    assert actors("?since=2026-01-11T00:01:30Z&until=2026-01-12T08:30") == [("alice@x", "logout")]
    assert actors("?actor=%25") == []  # a LIKE wildcard is just a character
    page = admin.http.get("/admin/audit?actor=bob&since=2026-01-01")
    assert page.status_code == 200
    assert "bob@x" in page.text and "alice@x" not in page.text
    assert 'value="bob"' in page.text and 'value="2026-01-01"' in page.text


def test_exported_csv_cannot_run_formulas(admin: Admin) -> None:
    audit.record(
        admin.portal.db,
        '=HYPERLINK("http://evil")',
        actor="+cmd|' /C calc'!A0",
        target="-2+3",
        note="@SUM(1)",
    )
    (row,) = rows(admin, "?actor=cmd")
    assert row["actor"] == "'+cmd|' /C calc'!A0"
    assert row["action"] == '\'=HYPERLINK("http://evil")'
    assert row["target"] == "'-2+3"
    assert json.loads(row["detail"]) == {"note": "@SUM(1)"}  # a JSON object starts with {
    # JSON keeps values as they are: it is not opened by spreadsheets.
    assert exported(admin, "?actor=cmd")[0]["actor"] == "+cmd|' /C calc'!A0"
    assert [csv_cell(v) for v in ("=1", "+1", "-1", "@a", "\tx", "a=b", "", None, 7)] == [
        "'=1",
        "'+1",
        "'-1",
        "'@a",
        "'\tx",
        "a=b",
        "",
        "",
        "7",
    ]


def test_bad_filters_say_what_would_be_valid(admin: Admin) -> None:
    http = admin.http
    page = http.get("/admin/audit?since=yesterday&outcome=maybe&limit=0")
    assert page.status_code == 400
    assert (
        "since: &#39;yesterday&#39; is not a date (expected YYYY-MM-DD or an ISO 8601 time, "
        "e.g. 2026-11-01 or 2026-11-01T09:30Z)"
    ) in page.text
    assert "outcome: &#39;maybe&#39; is not an outcome (expected ok, denied, failed)" in page.text
    limit = http.get("/admin/audit?limit=0")
    assert limit.status_code == 400
    assert "limit: &#39;0&#39; is not a whole number from 1 to 500" in limit.text
    for export in ("/admin/audit.json", "/admin/audit.csv"):
        response = http.get(export + "?until=2026-13-01")
        assert response.status_code == 400
        assert response.json()["detail"].startswith("until: '2026-13-01' is not a date")
