"""Live status routes: probe an entity's environments now, the try-it console, status as JSON.

The pages that show status (home, catalog, entity) read it from ``portal.live`` in
their templates; these routes are the ones that act.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from portal.catalog import Entity, RefError, parse_ref
from portal.live import METHODS, Attempt, TryRequest, parse_headers
from portal.web.pages import READ, entity_of, entity_url, render, wants_json
from portal.web.runtime import Portal

__all__ = ["router"]

router = APIRouter()


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def _missing(request: Request, kind: str, namespace: str, name: str) -> Response:
    message = f"No entity {kind}:{namespace}/{name} in the catalog."
    if wants_json(request):
        return JSONResponse({"detail": message, "problems": []}, status_code=404)
    return render(request, "not_found.html", 404, message=message, suggestions=[])


@router.get("/live/status", dependencies=[READ])
def live_status(request: Request, entity: str = "") -> Response:
    """Every probed environment with its latest result (``?entity=kind:ns/name``: one entity's
    environments, unprobed ones included)."""
    live = _portal(request).live
    if entity:
        try:
            ref = parse_ref(entity)
        except RefError as exc:
            detail = f"entity: {entity[:100]!r} is not an entity ref ({exc})"
            return JSONResponse({"detail": detail, "problems": []}, status_code=422)
        statuses = live.statuses(ref)
    else:
        statuses = live.latest()
    return JSONResponse({"environments": [s.to_dict() for s in statuses]})


@router.post("/catalog/{kind}/{namespace}/{name}/probe", dependencies=[READ])
def probe(kind: str, namespace: str, name: str, request: Request) -> Response:
    """Probe the entity's health endpoints now; back to its page (or the results as JSON)."""
    entity = entity_of(_portal(request), kind, namespace, name)
    if entity is None:
        return _missing(request, kind, namespace, name)
    statuses = _portal(request).live.probe_now(entity.ref)
    if wants_json(request):
        return JSONResponse({"environments": [s.to_dict() for s in statuses]})
    return RedirectResponse(f"{entity_url(entity.ref)}#status", status_code=303)


@router.get("/catalog/{kind}/{namespace}/{name}/try", dependencies=[READ])
def try_page(kind: str, namespace: str, name: str, request: Request) -> Response:
    entity = entity_of(_portal(request), kind, namespace, name)
    if entity is None:
        return _missing(request, kind, namespace, name)
    return _console(request, entity, None, {"method": "GET", "path": "/"})


@router.post("/catalog/{kind}/{namespace}/{name}/try", dependencies=[READ])
def try_send(
    kind: str,
    namespace: str,
    name: str,
    request: Request,
    environment: str = Form(""),
    method: str = Form("GET"),
    path: str = Form("/"),
    headers: str = Form(""),
    body: str = Form(""),
) -> Response:
    """Send one request to a server of the entity, from the portal, with nothing of the
    caller's own request (see portal.live.console)."""
    entity = entity_of(_portal(request), kind, namespace, name)
    if entity is None:
        return _missing(request, kind, namespace, name)
    form = {"environment": environment, "method": method, "path": path, "headers": headers}
    form["body"] = body
    parsed, problems = parse_headers(headers)
    if problems:
        error = "; ".join(problems)
        attempt = Attempt("", method, (), (), error=error, refused=True, field="headers")
        return _answer(request, entity, attempt, form, 422)
    attempt = _portal(request).live.try_it(
        entity.ref, TryRequest(environment, method, path, tuple(parsed), body)
    )
    if attempt.field is not None:
        status = 422  # a bad request, named by its field
    elif attempt.refused:
        status = 403  # the guard's refusal
    else:
        status = 502 if attempt.answer is None else 200
    return _answer(request, entity, attempt, form, status)


def _answer(
    request: Request, entity: Entity, attempt: Attempt, form: dict[str, str], status: int
) -> Response:
    if not wants_json(request):
        return _console(request, entity, attempt, form, status)
    answer = attempt.answer
    return JSONResponse(
        {
            "url": attempt.url,
            "method": attempt.method,
            "sent_headers": [list(h) for h in attempt.sent_headers],
            "not_sent": list(attempt.dropped),
            "error": attempt.error,
            "status": answer.status if answer else None,
            "headers": [list(h) for h in answer.headers] if answer else [],
            "body": attempt.text,
            "truncated": answer.truncated if answer else False,
        },
        status_code=status,
    )


def _console(
    request: Request,
    entity: Entity,
    attempt: Attempt | None,
    form: dict[str, Any],
    status: int = 200,
) -> Response:
    live = _portal(request).live
    servers = [(server, live.allowed(server)) for server in live.servers(entity.ref)]
    return render(
        request,
        "try.html",
        status,
        entity=entity,
        servers=servers,
        methods=METHODS,
        attempt=attempt,
        form=form,
        max_bytes=live.settings.live_max_bytes,
    )
