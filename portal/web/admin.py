"""Admin pages: API tokens (create, list, revoke) and the audit log (browse, export)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form
from starlette.requests import HTTPConnection, Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from portal.auth import access, audit, tokens
from portal.auth.access import Denied
from portal.auth.users import ROLES, SCOPES
from portal.db.models import ApiToken, AuditEvent, as_utc, utcnow
from portal.web.identity import current_user
from portal.web.pages import render
from portal.web.runtime import Portal

__all__ = ["csv_cell", "router"]

router = APIRouter()

OUTCOMES = ("ok", "denied", "failed")
PAGE = 50
MAX_PAGE = 500
COLUMNS = ("id", "at", "actor", "action", "target", "outcome", "source", "detail")
# A spreadsheet evaluates a cell starting with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _people_only(connection: HTTPConnection) -> None:
    # Tokens skip CSRF checks and outlive sessions: letting one mint or revoke tokens
    # would turn a leaked CI token into a lasting foothold.
    if current_user(connection).via == "token":
        raise Denied(403, "the admin pages are for people who signed in, not for API tokens")


ADMIN = [access.require("admin"), Depends(_people_only)]


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def when(moment: datetime | None) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "never"


@router.get("/admin", include_in_schema=False, dependencies=ADMIN)
def admin_home() -> RedirectResponse:
    return RedirectResponse("/admin/tokens", status_code=303)


# -- tokens ---------------------------------------------------------------------


def _status(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if as_utc(token.expires_at) <= now else "active"


def _tokens_page(
    request: Request, status: int = 200, form: Mapping[str, Any] | None = None, **context: Any
) -> HTMLResponse:
    now = utcnow()
    rows = [(t, _status(t, now)) for t in tokens.all_tokens(_portal(request).db)]
    defaults = {"kind": "personal", "days": tokens.DEFAULT_DAYS, "scopes": ["catalog:read"]}
    return render(
        request,
        "admin_tokens.html",
        status,
        tokens=rows,
        form={**defaults, **(form or {})},
        scopes=SCOPES,
        roles=ROLES,
        max_days=tokens.MAX_DAYS,
        when=when,
        **context,
    )


@router.get("/admin/tokens", response_class=HTMLResponse, dependencies=ADMIN)
def token_list(request: Request, revoked: str = "") -> HTMLResponse:
    return _tokens_page(request, revoked=revoked)


@router.post("/admin/tokens", response_class=HTMLResponse, dependencies=ADMIN)
def token_create(
    request: Request,
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "personal",
    days: Annotated[str, Form()] = str(tokens.DEFAULT_DAYS),
    service: Annotated[str, Form()] = "",
    groups: Annotated[str, Form()] = "",
    scopes: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    roles: Annotated[list[str], Form()] = [],  # noqa: B006
) -> HTMLResponse:
    form = {
        "name": name,
        "kind": kind,
        "days": days,
        "service": service,
        "groups": groups,
        "scopes": scopes,
        "roles": roles,
    }
    try:
        lifetime = int(days)
    except ValueError:
        problems = [f"days: {days!r} is not a whole number of days (1 to {tokens.MAX_DAYS})"]
        return _tokens_page(request, 422, form, problems=problems)
    try:
        issued = tokens.issue(
            _portal(request).db,
            current_user(request),
            name=name,
            kind=kind,
            scopes=scopes,
            days=lifetime,
            service=service,
            groups=groups.replace(",", " ").split(),
            roles=roles,
            connection=request,
        )
    except tokens.TokenRefused as exc:
        return _tokens_page(request, 422, form, problems=exc.problems)
    return render(
        request,
        "admin_token_created.html",
        201,
        token=issued.token,
        secret=issued.secret,
        when=when,
    )


@router.post("/admin/tokens/{token_id}/revoke", response_class=HTMLResponse, dependencies=ADMIN)
def token_revoke(token_id: str, request: Request) -> Response:
    revoked = tokens.revoke(
        _portal(request).db, token_id, current_user(request), connection=request
    )
    if revoked is None:
        return render(
            request,
            "not_found.html",
            404,
            message=f"There is no token {token_id}.",
            suggestions=[("/admin/tokens", "API tokens")],
        )
    return RedirectResponse("/admin/tokens?" + urlencode({"revoked": token_id}), status_code=303)


# -- audit log ------------------------------------------------------------------


class BadQuery(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _moment(field: str, text: str, *, end: bool) -> datetime | None:
    """A day (``until`` takes the whole day) or an ISO 8601 time; naive means UTC."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadQuery(
            [
                f"{field}: {text!r} is not a date (expected YYYY-MM-DD or an ISO 8601 time, "
                "e.g. 2026-11-01 or 2026-11-01T09:30Z)"
            ]
        ) from None
    return as_utc(moment).astimezone(UTC)


def _number(field: str, text: str | None, low: int, high: int) -> int | None:
    if text is None or text.strip() == "":
        return None
    if not (text.strip().isascii() and text.strip().isdigit()) or not low <= int(text) <= high:
        raise BadQuery([f"{field}: {text!r} is not a whole number from {low} to {high}"])
    return int(text)


def _filter(params: Mapping[str, str]) -> audit.Filter:
    problems: list[str] = []
    moments: dict[str, datetime | None] = {}
    for field, end in (("since", False), ("until", True)):
        try:
            moments[field] = _moment(field, params.get(field, ""), end=end)
        except BadQuery as exc:
            problems += exc.problems
    outcome = params.get("outcome", "").strip()
    if outcome and outcome not in OUTCOMES:
        problems.append(f"outcome: {outcome!r} is not an outcome (expected {', '.join(OUTCOMES)})")
    if problems:
        raise BadQuery(problems)
    return audit.Filter(
        actor=params.get("actor", "").strip(),
        action=params.get("action", "").strip(),
        outcome=outcome,
        since=moments["since"],
        until=moments["until"],
    )


FILTER_FIELDS = ("actor", "action", "outcome", "since", "until")


def _filter_params(params: Mapping[str, str]) -> dict[str, str]:
    return {k: params[k] for k in FILTER_FIELDS if params.get(k, "").strip()}


@router.get("/admin/audit", response_class=HTMLResponse, dependencies=ADMIN)
def audit_page(request: Request) -> HTMLResponse:
    db = _portal(request).db
    params = request.query_params
    kept = _filter_params(params)
    try:
        where = _filter(params)
        limit = _number("limit", params.get("limit"), 1, MAX_PAGE) or PAGE
        before = _number("before", params.get("before"), 1, 2**63)
        after = _number("after", params.get("after"), 0, 2**63)
    except BadQuery as exc:
        return render(
            request,
            "admin_audit.html",
            400,
            events=[],
            problems=exc.problems,
            params=kept,
            outcomes=OUTCOMES,
            newer=None,
            older=None,
            exports=None,
            when=when,
        )
    found = audit.events(db, where, before=before, after=after, limit=limit)
    page = {**kept, **({"limit": str(limit)} if limit != PAGE else {})}
    newer = older = None
    if found and audit.events(db, where, after=found[0].id, limit=1):
        newer = "/admin/audit?" + urlencode({**page, "after": found[0].id})
    if found and audit.events(db, where, before=found[-1].id, limit=1):
        older = "/admin/audit?" + urlencode({**page, "before": found[-1].id})
    query = urlencode(kept)
    return render(
        request,
        "admin_audit.html",
        events=[_event_json(e) for e in found],
        problems=[],
        params=kept,
        outcomes=OUTCOMES,
        newer=newer,
        older=older,
        exports={f: f"/admin/audit.{f}" + (f"?{query}" if query else "") for f in ("csv", "json")},
        when=when,
    )


def _event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": as_utc(event.at).isoformat(),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "outcome": event.outcome,
        "source": event.source,
        "detail": event.detail,
    }


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading quote stops a formula from running."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _export(request: Request, kind: str) -> Response:
    try:
        where = _filter(request.query_params)
    except BadQuery as exc:
        return JSONResponse({"detail": "; ".join(exc.problems), "problems": []}, 400)
    portal = _portal(request)
    audit.record(
        portal.db,
        "audit.export",
        actor=current_user(request),
        connection=request,
        format=kind,
        filters=_filter_params(request.query_params),
    )
    events = (_event_json(e) for e in audit.every_event(portal.db, where))
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    headers = {
        "Content-Disposition": f'attachment; filename="audit-{stamp}.{kind}"',
        "Cache-Control": "no-store",
    }
    if kind == "csv":
        return StreamingResponse(
            _csv(events), media_type="text/csv; charset=utf-8", headers=headers
        )
    return StreamingResponse(_json(events), media_type="application/json", headers=headers)


def _csv(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for event in events:
        event["detail"] = json.dumps(event["detail"], sort_keys=True)
        writer.writerow([csv_cell(event[c]) for c in COLUMNS])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    yield "["
    for index, event in enumerate(events):
        yield ("," if index else "") + "\n" + json.dumps(event, sort_keys=True)
    yield "\n]\n"


@router.get("/admin/audit.csv", include_in_schema=False, dependencies=ADMIN)
def audit_csv(request: Request) -> Response:
    return _export(request, "csv")


@router.get("/admin/audit.json", include_in_schema=False, dependencies=ADMIN)
def audit_json(request: Request) -> Response:
    return _export(request, "json")
