"""Search over HTTP: ``/api/v1/search`` (and ``/suggest``) and the server-rendered ``/search`` page.

Who may search: anyone, over the audiences they may read (``by_audience``, as
for the sites themselves). A signed-in reader searches every audience their
roles and groups admit; an anonymous caller (or a token without
``catalog:read``) only the public ones. The audiences go into the engine's
query, so hits, totals and facet counts never include anything else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from markupsafe import Markup
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from portal.auth import access
from portal.auth.access import Denied
from portal.auth.users import User
from portal.catalog import RefError, parse_ref
from portal.search import (
    FACETS,
    SearchError,
    SearchHit,
    SearchIndex,
    SearchQuery,
    SearchResults,
)
from portal.sites import urls
from portal.sites.config import best_audience
from portal.web.identity import current_user
from portal.web.pages import in_place_or_thread, render
from portal.web.runtime import Portal

__all__ = ["SearchOut", "SuggestOut", "api_router", "router"]

MAX_QUERY_CHARS = 500
PAGE_SIZE = 20

api_router = APIRouter()  # mounted under /api/v1 by portal.web.api
router = APIRouter()  # the /search page


class SearchHitOut(BaseModel):
    id: str = Field(
        description="Stable id: page:<path>#<anchor>, entity:<ref> or op:<api>#<anchor>."
    )
    type: Literal["page", "entity", "operation"]
    kind: str = Field(description="page, operation, or the entity's kind.")
    title: str
    heading_path: list[str] = Field(description="The page title and headings down to the hit.")
    snippet: str = Field(description="HTML: the text escaped, matched words in <mark>.")
    url: str = Field(
        description="Deep link on this portal: a section's anchor in the best audience site the "
        "caller may read, an entity's catalog page, or an operation's anchor in its API page."
    )
    audience: str | None = Field(description="The audience site `url` points into, if any.")
    ref: str | None = Field(description="The entity (or the operation's API entity).")
    score: float


class SearchOut(BaseModel):
    query: str
    audiences: list[str] = Field(description="The audiences searched: the caller may read each.")
    total: int = Field(description="How many permitted documents match.")
    hits: list[SearchHitOut]
    facets: dict[str, dict[str, int]] = Field(
        description="Per facet (type, kind, owner, tag), each value's count among the matches."
    )
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class SuggestOut(BaseModel):
    suggestions: list[SearchHitOut]


# -- who may see what -------------------------------------------------------------------


def readable(portal: Portal, user: User) -> list[str]:
    """The audiences ``user`` may read; a token without catalog:read only the public ones."""
    return [
        name
        for name, audience in portal.audiences.items()
        if user.in_any(audience.access) and (audience.public or user.allows("catalog:read"))
    ]


def searched_audiences(portal: Portal, user: User, requested: list[str]) -> frozenset[str]:
    """The permission filter: what ``user`` may read, narrowed to ``requested`` when given."""
    mine = readable(portal, user)
    if not requested:
        if not mine and not user.authenticated:
            raise Denied(401, "sign in to search")
        return frozenset(mine)
    for name in requested:
        audience = portal.audiences.get(name)
        if audience is None:
            known = ", ".join(portal.audiences) or "none"
            raise HTTPException(400, f"audience: no audience called {name!r} (known: {known})")
        if name not in mine:
            raise access.audience_refusal(user, name, audience.access, "search", "audience")
    return frozenset(requested)


def _index(portal: Portal) -> SearchIndex:
    if portal.search_index is None:
        raise HTTPException(503, "the search index is not open yet; try again shortly")
    return portal.search_index


def deep_link(
    portal: Portal,
    user: User,
    hit: SearchHit,
    searched: frozenset[str],
    prefer: str | None = None,
) -> tuple[str, str | None]:
    """Where a hit lives for this reader: (url, the audience site it points into).

    ``prefer``: the site the reader is in, kept when it holds the hit.
    """
    index = portal.search_index
    holders = index.audiences_of(hit.id) if index is not None else None
    readable = [n for n in holders or searched if n in searched]
    audience = best_audience(portal.audiences, readable, prefer)
    if hit.type == "entity" and user.authenticated and user.allows("catalog:read"):
        try:
            ref = parse_ref(hit.ref)
        except RefError:
            pass
        else:
            return f"/catalog/{ref.kind}/{ref.namespace}/{ref.name}", audience
    if audience is None:
        return "", None
    return urls.portal_url("", audience, hit.path, hit.anchor), audience


def _hit_json(
    portal: Portal,
    user: User,
    hit: SearchHit,
    searched: frozenset[str],
    prefer: str | None = None,
) -> dict[str, Any]:
    """A hit as the API answers it (the shape of SearchHitOut)."""
    url, audience = deep_link(portal, user, hit, searched, prefer)
    return {
        "id": hit.id,
        "type": hit.type,
        "kind": hit.kind,
        "title": hit.title,
        "heading_path": list(hit.heading_path),
        "snippet": hit.snippet,
        "url": url,
        "audience": audience,
        "ref": hit.ref or None,
        "score": hit.score,
    }


def _hit_out(
    portal: Portal,
    user: User,
    hit: SearchHit,
    searched: frozenset[str],
    prefer: str | None = None,
) -> SearchHitOut:
    return SearchHitOut.model_validate(_hit_json(portal, user, hit, searched, prefer))


def run_search(
    portal: Portal,
    user: User,
    *,
    q: str,
    audiences: list[str],
    filters: dict[str, list[str]],
    limit: int,
    cursor: str | None,
    facets: bool = True,
) -> tuple[frozenset[str], SearchResults]:
    if len(q) > MAX_QUERY_CHARS:
        raise HTTPException(400, f"q: at most {MAX_QUERY_CHARS} characters; got {len(q)}")
    searched = searched_audiences(portal, user, audiences)
    query = SearchQuery(
        text=q,
        audiences=searched,
        kinds=tuple(filters.get("kind", ())),
        types=tuple(filters.get("type", ())),
        owners=tuple(filters.get("owner", ())),
        tags=tuple(filters.get("tag", ())),
        limit=limit,
        cursor=cursor,
        facets=facets,
    )
    try:
        return searched, _index(portal).search(query)
    except SearchError as exc:  # its message starts with the parameter: limit, cursor
        raise HTTPException(400, str(exc)) from None


# -- the API ----------------------------------------------------------------------------

Strings = Annotated[list[str] | None, Query()]


@api_router.get(
    "/search",
    response_model=SearchOut,
    dependencies=[access.by_audience()],
    summary="Search docs, entities and API operations",
    tags=["search"],
)
async def search_api(
    request: Request,
    q: Annotated[
        str,
        Query(
            description='What the reader typed: words, "phrases", and kind:, type:, owner:, '
            "tag: filters."
        ),
    ] = "",
    audience: Annotated[
        list[str] | None, Query(description="Only these audiences (each must be readable).")
    ] = None,
    kind: Annotated[
        list[str] | None, Query(description="page, operation or an entity kind.")
    ] = None,
    type: Annotated[list[str] | None, Query(description="page, entity or operation.")] = None,
    owner: Annotated[list[str] | None, Query(description="Owners, e.g. team-payments.")] = None,
    tag: Strings = None,
    limit: Annotated[int, Query(description="1 to 100.")] = PAGE_SIZE,
    cursor: Annotated[str | None, Query(description="From next_cursor.")] = None,
    prefer: Annotated[
        str | None,
        Query(
            description="Link into this audience's site when it holds a hit (a site's own "
            "search box sends its audience); otherwise the widest site the caller may read."
        ),
    ] = None,
    facets: Annotated[
        bool,
        Query(description="Count facet values (false: every facet comes back empty; faster)."),
    ] = True,
) -> Response:
    """Ranked hits the caller may read, with snippets, deep links and facet counts.

    Anonymous callers search the public audiences; signed-in readers every audience
    they may read. Totals and facets count only those.
    """
    portal: Portal = request.app.state.portal
    user = current_user(request)
    filters = {"kind": kind or [], "type": type or [], "owner": owner or [], "tag": tag or []}
    searched, results = await in_place_or_thread(
        _index(portal).quick,
        run_search,
        portal,
        user,
        q=q,
        audiences=audience or [],
        filters=filters,
        limit=limit,
        cursor=cursor,
        facets=facets,
    )
    body = {
        "query": q,
        "audiences": sorted(searched),
        "total": results.total,
        "hits": [_hit_json(portal, user, hit, searched, prefer) for hit in results.hits],
        "facets": results.facets,
        "next_cursor": results.next_cursor,
    }
    # Built as JSON directly: the most asked route skips validating its own answer
    # twice (tests check it against SearchOut, which documents it).
    return JSONResponse(body)


@api_router.get(
    "/search/suggest",
    response_model=SuggestOut,
    dependencies=[access.by_audience()],
    summary="Search as you type",
    tags=["search"],
)
async def suggest_api(
    request: Request,
    q: Annotated[str, Query(description="What is typed so far; the last word is a prefix.")] = "",
    audience: Annotated[list[str] | None, Query(description="Only these audiences.")] = None,
    limit: Annotated[int, Query(description="1 to 20.")] = 8,
) -> SuggestOut:
    """Titles and headings the caller may read that start with what is typed."""
    portal: Portal = request.app.state.portal
    user = current_user(request)
    if not 1 <= limit <= 20:
        raise HTTPException(400, f"limit: must be between 1 and 20; got {limit}")
    if len(q) > MAX_QUERY_CHARS:
        raise HTTPException(400, f"q: at most {MAX_QUERY_CHARS} characters; got {len(q)}")
    searched = searched_audiences(portal, user, audience or [])
    index = _index(portal)
    hits = await in_place_or_thread(index.quick, index.suggest, q, searched, limit)
    return SuggestOut(suggestions=[_hit_out(portal, user, hit, searched) for hit in hits])


# -- the page ---------------------------------------------------------------------------


@router.get("/search", response_class=HTMLResponse, dependencies=[access.by_audience()])
def search_page(request: Request) -> HTMLResponse:
    portal: Portal = request.app.state.portal
    user = current_user(request)
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if value != "" and key in ("q", "audience", "cursor", *FACETS):
            params.setdefault(key, []).append(value)
    q = params.get("q", [""])[0]
    cursor = params.get("cursor", [None])[0]
    state = {k: v for k, v in params.items() if k != "cursor"}

    def url(values: dict[str, list[str]]) -> str:
        return "/search?" + urlencode([(k, v) for k, vs in values.items() for v in vs])

    def toggle(facet: str, value: str) -> str:
        merged = {k: list(v) for k, v in state.items()}
        values = merged.setdefault(facet, [])
        if value in values:
            values.remove(value)
        else:
            values.append(value)
        return url(merged)

    error = None
    hits: list[tuple[SearchHitOut, Markup]] = []
    results: SearchResults | None = None
    if q or any(params.get(f) for f in FACETS):
        try:
            searched, results = run_search(
                portal,
                user,
                q=q,
                audiences=params.get("audience", []),
                filters={f: params.get(f, []) for f in FACETS},
                limit=PAGE_SIZE,
                cursor=cursor,
            )
        except HTTPException as exc:
            error = str(exc.detail)
        else:
            for hit in results.hits:
                out = _hit_out(portal, user, hit, searched)
                # Safe: every engine escapes the snippet's text and adds only <mark>.
                hits.append((out, Markup(out.snippet)))
    next_url = (
        url({**state, "cursor": [results.next_cursor]})
        if results is not None and results.next_cursor
        else None
    )
    context: dict[str, Any] = {
        "q": q,
        "params": params,
        "results": results,
        "hits": hits,
        "error": error,
        "toggle": toggle,
        "selected": lambda f, v: v in params.get(f, []),
        "next_url": next_url,
        "facet_names": FACETS,
    }
    return render(request, "search.html", 400 if error else 200, **context)
