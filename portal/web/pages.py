"""Server-rendered pages: home, docs sites, catalog browser, entity pages, registration."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Form, UploadFile
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from portal import __version__
from portal.auth import access, csrf
from portal.auth.access import Denied
from portal.auth.users import User
from portal.catalog import Entity, EntityRef, RefError, parse_ref
from portal.catalog.query import FACETS, SORTS, CatalogIndex, QueryError
from portal.docs import DocPage
from portal.sites import urls
from portal.sites.config import best_audience
from portal.web.graph import relation_graph
from portal.web.identity import current_user
from portal.web.runtime import Outcome, Portal, Rejected, Submission
from portal.web.scorecard_card import entity_card
from portal.web.sitefiles import (
    file_response,
    locate,
    memory_response,
    search_settings_response,
    suggestions,
)

__all__ = ["SiteFilesFromMemory", "router"]

P = ParamSpec("P")
R = TypeVar("R")

router = APIRouter()
# Pages follow the API's rules: a token needs the same scopes here as there.
READ = access.require("reader", "catalog:read")
WRITE = access.require("contributor", "catalog:write")
TEMPLATES = Path(__file__).with_name("templates")
# Material's search worker (hashed name) is answered by ours, which asks the portal's search.
SEARCH_WORKER = Path(__file__).with_name("static") / "portal-search-worker.js"
_MATERIAL_SEARCH_WORKER = re.compile(r"assets/javascripts/workers/search\.[0-9a-f]+\.min\.js")
# ... and so the page needs only the settings of the site's own index, not its documents.
MATERIAL_SEARCH_INDEX = "search/search_index.json"
RECENT = 8

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    # The templates ship with the portal and change only with it (portal serve --reload
    # restarts the process): no stat of every template file on every page.
    auto_reload=False,
)


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    from portal.web.app import material_stylesheets

    portal = _portal(request)
    html = _env.get_template(template).render(
        request=request,
        user=current_user(request),
        portal=portal,
        version=__version__,
        stylesheets=material_stylesheets(),
        entity_url=entity_url,
        csrf=csrf.token_of(request),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def denied_page(request: Request, exc: Denied) -> Response:
    """401 sends a browser to sign in (when there is a way to); 403 says why not."""
    portal = _portal(request)
    if exc.status == 401 and portal.settings.oidc_issuer:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
    return render(request, "denied.html", exc.status, reason=exc.reason)


def entity_url(ref: EntityRef) -> str:
    return f"/catalog/{ref.kind}/{ref.namespace}/{ref.name}"


# -- home ---------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse, dependencies=[READ])
def home(request: Request) -> HTMLResponse:
    portal = _portal(request)
    view = portal.view
    docs = list(portal.docs) if portal.docs else []
    onboarding = sorted(
        (p for p in docs if p.path.startswith("onboarding/")),
        key=lambda p: (p.position if p.position is not None else float("inf"), p.title.lower()),
    )
    never = datetime.min.replace(tzinfo=UTC)
    changes = portal.changes
    recent_docs = sorted(docs, key=lambda p: changes.get(p.display, never), reverse=True)
    entities: list[tuple[datetime, Entity, str]] = []
    for entity in view.catalog:
        info = view.registered.get(entity.ref)
        if info is not None:
            entities.append((info.created_at, entity, f"registered by {info.registered_by}"))
        elif (when := changes.get(entity.origin.display)) is not None:
            entities.append((when, entity, entity.origin.display))
    entities.sort(key=lambda item: item[0], reverse=True)
    return render(
        request,
        "home.html",
        audiences=list(portal.audiences.values()),
        onboarding=[(p, doc_url(portal, p, prefer="new-developers")) for p in onboarding],
        recent_docs=[
            (p, doc_url(portal, p), changes.get(p.display, never)) for p in recent_docs[:RECENT]
        ],
        recent_entities=entities[:RECENT],
        kinds=view.catalog.kinds(),
        total=len(view.catalog),
    )


def doc_url(portal: Portal, page: DocPage, prefer: str = "everyone") -> str | None:
    """The portal URL of a docs page in an internal audience's site that includes it."""
    names = [n for n, a in portal.audiences.items() if a.includes_page(page)]
    best = best_audience(portal.audiences, names, prefer)
    return urls.portal_url("", best, page.path) if best is not None else None


# -- docs sites -----------------------------------------------------------------


@router.get("/docs", include_in_schema=False, dependencies=[access.public()])
@router.get("/docs/", include_in_schema=False, dependencies=[access.public()])
def docs_index() -> RedirectResponse:
    return RedirectResponse("/#audiences", status_code=307)


@router.get("/docs/{audience}", include_in_schema=False, dependencies=[access.public()])
def docs_root(audience: str) -> RedirectResponse:
    return RedirectResponse(f"/docs/{audience}/", status_code=308)


@router.get(
    "/docs/{audience}/{path:path}", include_in_schema=False, dependencies=[access.by_audience()]
)
def docs_file(audience: str, path: str, request: Request) -> Response:
    """A site's file (most page views never get here: see :class:`SiteFilesFromMemory`)."""
    portal = _portal(request)
    if audience not in portal.audiences:
        return render(
            request,
            "not_found.html",
            404,
            message=f"There is no audience called “{audience}”.",
            suggestions=[(f"/docs/{a}/", a) for a in portal.audiences],
        )
    allowed = portal.audiences[audience].access
    user = current_user(request)
    if not user.in_any(allowed):
        raise access.audience_refusal(user, audience, allowed, "read")
    site = portal.site_dir(audience)
    found = locate(site, path, url_path=request.url.path)
    if found is not None and found.redirect is not None:
        return RedirectResponse(found.redirect, status_code=308)
    if found is None or found.path is None:
        if not os.path.isdir(site):
            message = portal.site_store.unavailable(audience) or (
                f"The {audience} site has not been built yet. Run `portal build` "
                "(or restart `portal serve`, which builds what is stale)."
            )
            return render(request, "not_found.html", 404, message=message, suggestions=[])
        return render(
            request,
            "not_found.html",
            404,
            message=f"No page at /docs/{audience}/{path} in the {audience} site.",
            suggestions=[(f"/docs/{audience}/{s}/", s) for s in suggestions(site, path)],
            site=f"/docs/{audience}/",
        )
    private = not portal.audiences[audience].public
    if _MATERIAL_SEARCH_WORKER.fullmatch(path):
        # The site's search box searches every audience the reader may read; the file
        # on disk stays Material's, for a site opened from disk.
        return file_response(request, SEARCH_WORKER, private=private)
    if path == MATERIAL_SEARCH_INDEX:
        return search_settings_response(request, found.path, private=private)
    return file_response(request, found.path, private=private, stat=found.stat)


class SiteFilesFromMemory:
    """Answers a docs site's file straight from memory, before routing: most page views.

    Only when the answer needs nothing else: a GET for a file of a known audience that
    the reader may read, found and read before (see ``locate(resolve=False)`` and
    :func:`memory_response`). Everything else (a file not read yet, a folder's
    redirect, a refusal, a 404, the search files the portal rewrites) goes on to the
    ``docs_file`` route, which decides by the same rules. The answer is counted and
    logged under that route's template.
    """

    def __init__(self, app: ASGIApp, portal: Portal, route: object) -> None:
        self.app = app
        self.portal = portal
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith("/docs/"):
                answer = self._answer(scope, path)
                if answer is not None:
                    scope["route"] = self.route
                    await answer(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope, url_path: str) -> Response | None:
        audience, slash, relative = url_path[len("/docs/") :].partition("/")
        site = self.portal.audiences.get(audience)
        if site is None or not slash or relative == MATERIAL_SEARCH_INDEX:
            return None
        if _MATERIAL_SEARCH_WORKER.fullmatch(relative):
            return None
        user = scope.get("user")
        if not isinstance(user, User) or not user.in_any(site.access):
            return None  # the route refuses, with the reason
        found = locate(self.portal.site_dir(audience), relative, url_path=url_path, resolve=False)
        if found is None or found.path is None or found.stat is None:
            return None
        return memory_response(Request(scope), found.path, stat=found.stat, private=not site.public)


# -- catalog browser ---------------------------------------------------------------


@router.get("/catalog", response_class=HTMLResponse, dependencies=[READ])
def catalog(request: Request) -> HTMLResponse:
    portal = _portal(request)
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if value != "":
            params.setdefault(key, []).append(value)
    error = None
    try:
        query = CatalogIndex.parse_query(params)
        page = portal.view.index.search(query)
    except QueryError as exc:
        error = f"{exc.field}: {exc.message}"
        params = {}
        query = CatalogIndex.parse_query({})
        page = portal.view.index.search(query)

    # Links are made from the query's canonical values (owner=team-a is
    # group:default/team-a), so a facet link can tell whether its value is selected.
    state: dict[str, list[str]] = {f: list(query.selected(f)) for f in FACETS}
    state["q"] = [query.text] if query.text else []
    if query.sort != "name" or query.order != "asc":
        state["sort"], state["order"] = [query.sort], [query.order]
    if "limit" in params:
        state["limit"] = [str(query.limit)]

    def url(values: dict[str, list[str]]) -> str:
        return "/catalog?" + urlencode([(k, v) for k, vs in values.items() for v in vs])

    def link(**changes: str | None) -> str:
        merged = {k: list(v) for k, v in state.items()}
        for key, value in changes.items():
            merged[key] = [] if value is None else [value]
        return url(merged)

    def toggle(facet: str, value: str) -> str:
        merged = {k: list(v) for k, v in state.items()}
        values = merged[facet]
        if value in values:
            values.remove(value)
        else:
            values.append(value)
        return url(merged)

    return render(
        request,
        "catalog.html",
        200 if error is None else 400,
        page=page,
        query=query,
        facets=FACETS,
        sorts=SORTS,
        params=params,
        error=error,
        link=link,
        toggle=toggle,
    )


# -- entity pages -------------------------------------------------------------------


async def in_place_or_thread(
    quick: bool, work: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
) -> R:
    """``work(...)`` right here on the event loop when it is ``quick`` (CPU only, a few
    milliseconds: a trip to a worker thread would cost more), else in a worker thread."""
    if quick:
        return work(*args, **kwargs)
    return await run_in_threadpool(work, *args, **kwargs)


def wants_json(connection: HTTPConnection) -> bool:
    """Whether to answer JSON rather than a page: the API, or a caller asking for JSON."""
    if connection.scope["path"].startswith("/api/"):
        return True
    accept = connection.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def entity_of(portal: Portal, kind: str, namespace: str, name: str) -> Entity | None:
    """The catalog's entity at a page's /catalog/{kind}/{namespace}/{name}, or None."""
    try:
        ref = parse_ref(f"{kind}:{namespace}/{name}")
    except RefError:
        return None
    return portal.view.catalog.get(ref)


@router.get(
    "/catalog/{kind}/{namespace}/{name}",
    response_class=HTMLResponse,
    dependencies=[READ],
)
def entity_page(kind: str, namespace: str, name: str, request: Request) -> HTMLResponse:
    portal = _portal(request)
    view = portal.view
    entity = entity_of(portal, kind, namespace, name)
    if entity is None:
        text = f"{kind}:{namespace}/{name}"
        close = view.index.search(CatalogIndex.parse_query({"q": [name], "limit": ["5"]}))
        return render(
            request,
            "not_found.html",
            404,
            message=f"No entity {text} in the catalog.",
            suggestions=[(entity_url(e.ref), str(e.ref)) for e in close.items],
        )
    audience = portal.audience_for(entity)
    site_links: list[tuple[str, str, bool]] = []
    if audience is not None:
        base = portal.site_dir(audience.name)

        def site_link(label: str, path: str) -> None:
            url = urls.portal_url("", audience.name, path)
            built = (base / urls.page_url(path) / "index.html").is_file()
            site_links.append((label, url, built))

        site_link(f"Catalog page in the {audience.title} site", urls.entity_page(entity.ref))
        if entity.annotations.get("backstage.io/techdocs-ref"):
            site_link("Documentation", urls.entity_docs_dir(entity.ref) + "/index.md")
        if entity.ref.kind == "api":
            site_link("API reference", urls.api_page(entity.ref))
        if entity.annotations.get("portal.quantum.dev/python-package"):
            site_link(
                "Python reference",
                f"{urls.entity_docs_dir(entity.ref).rsplit('/', 1)[0]}/python.md",
            )
    apis = [
        (ref, view.catalog.get(ref))
        for r in entity.relations
        if r.type in ("providesApi", "consumesApi", "apiProvidedBy")
        for ref in [r.target]
    ]
    grouped: dict[str, list[EntityRef]] = {}
    for relation in entity.relations:
        grouped.setdefault(relation.type, []).append(relation.target)
    problems = [p for p in view.report if p.file == entity.origin.display]
    position = entity.origin.position(("metadata", "name"))
    return render(
        request,
        "entity.html",
        entity=entity,
        catalog=view.catalog,
        relations=sorted(grouped.items()),
        graph=Markup(relation_graph(entity, view.catalog, entity_url)),
        site_links=site_links,
        apis=apis,
        problems=problems,
        registered=view.registered.get(entity.ref),
        source_line=position[0] if position else None,
        owner=_first(entity.related("ownedBy")),
        system=_first(entity.related("partOf")),
        scorecards=entity_card(portal, entity),
    )


def _first(refs: list[EntityRef]) -> EntityRef | None:
    return refs[0] if refs else None


@router.get(
    "/catalog/{kind}/{namespace}/{name}/graph.svg",
    include_in_schema=False,
    dependencies=[READ],
)
def entity_graph(kind: str, namespace: str, name: str, request: Request) -> Response:
    portal = _portal(request)
    entity = entity_of(portal, kind, namespace, name)
    if entity is None:
        return Response("no such entity", status_code=404, media_type="text/plain")
    svg = relation_graph(entity, portal.view.catalog, entity_url)
    return Response(svg, media_type="image/svg+xml; charset=utf-8")


@router.post(
    "/catalog/{kind}/{namespace}/{name}/unregister",
    response_class=HTMLResponse,
    dependencies=[WRITE],
)
def unregister_form(kind: str, namespace: str, name: str, request: Request) -> Response:
    portal = _portal(request)
    try:
        ref = parse_ref(f"{kind}:{namespace}/{name}")
        removed = portal.unregister(ref, current_user(request), request)
    except (RefError, Rejected) as exc:
        message = exc.message if isinstance(exc, Rejected) else str(exc)
        status = exc.status if isinstance(exc, Rejected) else 404
        return render(request, "not_found.html", status, message=message, suggestions=[])
    return render(request, "unregistered.html", removed=removed)


# -- registration ---------------------------------------------------------------------


@router.get("/register", response_class=HTMLResponse, dependencies=[WRITE])
def register_form(request: Request) -> HTMLResponse:
    portal = _portal(request)
    return render(
        request, "register.html", outcome=None, text="", target="", excluded=_excluded(portal)
    )


def _excluded(portal: Portal) -> list[tuple[int, list[Any]]]:
    return sorted(portal.view.excluded.items())


@router.post("/register", response_class=HTMLResponse, dependencies=[WRITE])
async def register_submit(
    request: Request,
    action: str = Form("check"),
    descriptor: str = Form(""),
    target: str = Form(""),
    upload: UploadFile | None = None,
) -> HTMLResponse:
    portal = _portal(request)
    filename = "catalog-info.yaml"
    text = descriptor
    if upload is not None and upload.filename:
        limit = portal.settings.max_upload_bytes
        data = await upload.read(limit + 1)
        filename = upload.filename
        if len(data) > limit:
            outcome = Outcome(
                [],
                [
                    _problem(
                        filename,
                        f"is larger than {limit:,} bytes, the most a descriptor may be "
                        "(setting PORTAL_MAX_UPLOAD_BYTES)",
                    )
                ],
            )
            return render(
                request,
                "register.html",
                413,
                outcome=outcome,
                text="",
                target=target,
                excluded=_excluded(portal),
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            outcome = Outcome(
                [],
                [_problem(filename, f"is not UTF-8 text (byte {exc.start + 1} cannot be read)")],
            )
            return render(
                request,
                "register.html",
                422,
                outcome=outcome,
                text="",
                target=target,
                excluded=_excluded(portal),
            )
    submission = (
        Submission(target=target.strip(), filename=filename)
        if target.strip() and not text.strip()
        else Submission(text=text, filename=filename)
    )
    if action == "register":
        try:
            registration, outcome = portal.register(submission, current_user(request), request)
        except Rejected as exc:
            return render(
                request,
                "register.html",
                exc.status,
                outcome=exc.outcome,
                error=exc.message,
                text=text,
                target=target,
                excluded=_excluded(portal),
            )
        return render(
            request,
            "registered.html",
            registration=registration,
            outcome=outcome,
        )
    outcome = portal.check(submission)
    return render(
        request,
        "register.html",
        200 if outcome.ok else 422,
        outcome=outcome,
        text=text,
        target=target,
        checked=True,
        excluded=_excluded(portal),
    )


def _problem(file: str, message: str) -> Any:
    from portal.problems import Problem

    return Problem(file, message)
