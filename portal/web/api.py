"""The REST API under /api/v1, described by its own OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from portal import __version__
from portal.auth import access
from portal.catalog import Entity, EntityRef, RefError
from portal.catalog.query import SORTS, CatalogIndex, QueryError
from portal.catalog.refs import parse_ref
from portal.problems import Problem
from portal.web.identity import current_user
from portal.web.ops import unavailable_instead_of
from portal.web.runtime import Outcome, Portal, Rejected, Submission
from portal.web.scorecards_api import router as scorecards_router
from portal.web.search import api_router as search_router

__all__ = ["create_api"]

API_DESCRIPTION = """\
The Quantum Portal's catalog over HTTP: list and filter entities with facet counts
and cursor pagination, read one entity and its relations, and register or remove
descriptors. Errors are JSON with the same `file:line` details as `portal validate`.
"""


class ProblemOut(BaseModel):
    """One problem, positioned in the submitted descriptor (or naming the request field)."""

    file: str
    line: int | None = None
    column: int | None = None
    severity: Literal["error", "warning"]
    message: str


class ErrorOut(BaseModel):
    detail: str
    problems: list[ProblemOut] = Field(default_factory=list)


class FacetValueOut(BaseModel):
    value: str
    label: str
    count: int
    selected: bool


class EntityList(BaseModel):
    items: list[dict[str, Any]] = Field(description="Entities in the Backstage descriptor shape.")
    total: int = Field(description="How many entities match the filters.")
    facets: dict[str, list[FacetValueOut]] = Field(
        description="Per facet, each value's count with every other filter applied."
    )
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")
    prev_cursor: str | None = Field(description="Pass as `cursor` for the previous page.")


class RelationOut(BaseModel):
    type: str
    target_ref: str
    target_exists: bool


class RegistrationIn(BaseModel):
    """A descriptor's YAML text, or the repository path of a catalog file (a Location)."""

    descriptor: str | None = Field(default=None, description="One or more YAML documents.")
    target: str | None = Field(
        default=None,
        description="Path of a catalog-info.yaml inside the repository, instead of a text.",
    )
    filename: str = Field(default="catalog-info.yaml", description="Names the text in messages.")


class RegistrationOut(BaseModel):
    dry_run: bool
    registered: bool
    id: int | None = None
    entities: list[str]
    problems: list[ProblemOut]
    shadowed: list[str] = Field(
        default_factory=list,
        description="Entities of the submission that a repository file already defines "
        "(the file's entity wins).",
    )


class RemovalOut(BaseModel):
    removed: list[str]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "A bad filter, sort or cursor."},
    404: {"model": ErrorOut, "description": "No such entity."},
}


def create_api(portal: Portal) -> FastAPI:
    api = FastAPI(
        title="Quantum Portal API",
        version=__version__,
        description=API_DESCRIPTION,
        openapi_url=None,  # served below, behind an access rule like every route
        servers=[{"url": "/api/v1", "description": "This portal"}],
        docs_url=None,  # Swagger UI would load from a CDN; the docs sites render this document
        redoc_url=None,
    )
    api.state.portal = portal

    @api.get("/openapi.json", include_in_schema=False, dependencies=[access.require()])
    def openapi_json() -> JSONResponse:
        return JSONResponse(api.openapi())

    @api.exception_handler(access.Denied)
    async def denied(request: Request, exc: access.Denied) -> Response:
        instead = unavailable_instead_of(request, exc)  # a 503 while the database is down
        if instead is not None:
            return instead
        response = _error(exc.status, exc.reason)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="portal"'
        return response

    @api.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            ProblemOut(
                file="request",
                severity="error",
                message=f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}",
            )
            for err in exc.errors()
        ]
        return _error(422, "the request is not valid", problems)

    @api.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @api.get(
        "/entities",
        response_model=EntityList,
        dependencies=[access.require("reader", "catalog:read")],
        responses=ERRORS,
        summary="List entities",
        tags=["catalog"],
    )
    async def list_entities(
        request: Request,
        kind: Annotated[list[str] | None, Query(description="Kinds (any of).")] = None,
        type: Annotated[list[str] | None, Query(description="spec.type values (any of).")] = None,
        owner: Annotated[list[str] | None, Query(description="Owners, e.g. team-payments.")] = None,
        lifecycle: Annotated[list[str] | None, Query()] = None,
        system: Annotated[list[str] | None, Query()] = None,
        tag: Annotated[list[str] | None, Query()] = None,
        q: Annotated[str, Query(description="Free text: each word must start a word.")] = "",
        sort: Annotated[str, Query(description=f"One of {', '.join(SORTS)}.")] = "name",
        order: Annotated[Literal["asc", "desc"], Query()] = "asc",
        limit: Annotated[int, Query(description="1 to 200.")] = 25,
        cursor: Annotated[str | None, Query(description="From next_cursor or prev_cursor.")] = None,
    ) -> EntityList | JSONResponse:
        """Entities matching every filter (values of one filter: any of), one page at a time."""
        # The catalog routes read only the in-memory catalog: answered on the event loop.
        view = portal.view
        try:
            query = CatalogIndex.parse_query(_multi(request))
        except QueryError as exc:
            return _error(400, exc.message, [_field_problem(exc.field, exc.message)])
        try:
            page = view.index.search(query)
        except QueryError as exc:
            return _error(400, exc.message, [_field_problem(exc.field, exc.message)])
        return EntityList(
            items=[_entity_json(portal, e) for e in page.items],
            total=page.total,
            facets={name: [_facet(v) for v in values] for name, values in page.facets.items()},
            next_cursor=page.next_cursor,
            prev_cursor=page.prev_cursor,
        )

    @api.get(
        "/entities/{kind}/{namespace}/{name}",
        responses=ERRORS,
        dependencies=[access.require("reader", "catalog:read")],
        summary="Get one entity",
        tags=["catalog"],
    )
    async def get_entity(kind: str, namespace: str, name: str) -> dict[str, Any]:
        """The entity in the Backstage descriptor shape, with its relations and source."""
        return _entity_json(portal, _find(portal, kind, namespace, name), source=True)

    @api.get(
        "/entities/{kind}/{namespace}/{name}/relations",
        dependencies=[access.require("reader", "catalog:read")],
        response_model=list[RelationOut],
        responses=ERRORS,
        summary="An entity's relations",
        tags=["catalog"],
    )
    async def get_relations(kind: str, namespace: str, name: str) -> list[RelationOut]:
        """Every relation of the entity, both ways, and whether its target exists."""
        entity = _find(portal, kind, namespace, name)
        catalog = portal.view.catalog
        return [
            RelationOut(type=r.type, target_ref=str(r.target), target_exists=r.target in catalog)
            for r in entity.relations
        ]

    @api.post(
        "/entities",
        response_model=RegistrationOut,
        dependencies=[access.require("contributor", "catalog:write")],
        status_code=201,
        responses={
            200: {"model": RegistrationOut, "description": "A dry run's verdict."},
            409: {"model": ErrorOut, "description": "A name already registered meanwhile."},
            413: {"model": ErrorOut, "description": "The body is too large."},
            422: {"model": ErrorOut, "description": "The descriptor has errors."},
        },
        summary="Register a descriptor",
        tags=["catalog"],
    )
    def register(
        request: Request,
        body: RegistrationIn,
        dry_run: Annotated[bool, Query(description="Check only; store nothing.")] = False,
    ) -> RegistrationOut | JSONResponse:
        """Validate a descriptor (or a repository path) and, unless `dry_run`, register it.

        Nothing is stored when there is any error. A repository file's entity wins a
        name clash: the submission is refused and `shadowed` says which file.
        """
        if (body.descriptor is None) == (body.target is None):
            problem = _field_problem("body", "give exactly one of descriptor and target")
            return _error(422, problem.message, [problem])
        submission = Submission(body.descriptor, body.target, body.filename)
        user = current_user(request)
        if dry_run:
            outcome = portal.check(submission)
            result = _registration_out(outcome, dry_run=True)
            return JSONResponse(result.model_dump(), status_code=200)
        try:
            registration, outcome = portal.register(submission, user, request)
        except Rejected as exc:
            outcome = exc.outcome or Outcome([], [])
            return _error(exc.status, exc.message, [_problem(p) for p in outcome.problems])
        out = _registration_out(outcome, dry_run=False)
        out.registered = True
        out.id = registration.id
        return out

    @api.delete(
        "/entities/{kind}/{namespace}/{name}",
        response_model=RemovalOut,
        dependencies=[access.require("contributor", "catalog:write")],
        responses={**ERRORS, 409: {"model": ErrorOut, "description": "Defined by a file."}},
        summary="Remove a registered entity",
        tags=["catalog"],
    )
    def unregister(
        kind: str, namespace: str, name: str, request: Request
    ) -> RemovalOut | JSONResponse:
        """Remove the registration that defined this entity, with every entity it defined.

        Entities from the repository's files cannot be removed here.
        """
        ref = _ref(kind, namespace, name)
        try:
            removed = portal.unregister(ref, current_user(request), request)
        except Rejected as exc:
            return _error(exc.status, exc.message)
        return RemovalOut(removed=[str(r) for r in removed])

    api.include_router(
        search_router,
        responses={
            400: {"model": ErrorOut, "description": "A bad parameter, named in `detail`."},
            401: {"model": ErrorOut, "description": "Signing in would show more."},
            403: {"model": ErrorOut, "description": "An audience the caller may not read."},
        },
    )
    api.include_router(
        scorecards_router,
        responses={
            400: {"model": ErrorOut, "description": "A bad filter or cursor, named in `detail`."},
            404: {"model": ErrorOut, "description": "No such scorecard or entity."},
            503: {"model": ErrorOut, "description": "Not evaluated yet (just started)."},
        },
    )
    return api


def openapi_document() -> str:
    """The REST API's OpenAPI document, as the docs sites render it (stable JSON)."""
    import json

    from portal.settings import Settings

    api = create_api(Portal(Settings(), rebuild=False))
    return json.dumps(api.openapi(), indent=2, sort_keys=True) + "\n"


def _multi(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def _facet(value: Any) -> FacetValueOut:
    return FacetValueOut(
        value=value.value, label=value.label, count=value.count, selected=value.selected
    )


def _ref(kind: str, namespace: str, name: str) -> EntityRef:
    try:
        return parse_ref(f"{kind}:{namespace}/{name}")
    except RefError as exc:
        raise HTTPException(404, f"no such entity: {exc}") from None


def _find(portal: Portal, kind: str, namespace: str, name: str) -> Entity:
    ref = _ref(kind, namespace, name)
    entity = portal.view.catalog.get(ref)
    if entity is None:
        raise HTTPException(404, f"no entity {ref} in the catalog")
    return entity


def _entity_json(portal: Portal, entity: Entity, *, source: bool = False) -> dict[str, Any]:
    data = entity.to_dict()
    if source:
        info = portal.view.registered.get(entity.ref)
        position = entity.origin.position(("metadata", "name"))
        data["source"] = {
            "file": entity.origin.display,
            "line": position[0] if position else None,
            "registered": info is not None,
            "registered_by": info.registered_by if info else None,
        }
    return data


def _problem(problem: Problem) -> ProblemOut:
    return ProblemOut(**problem.to_dict())  # type: ignore[arg-type]


def _field_problem(field: str, message: str) -> ProblemOut:
    return ProblemOut(file="request", severity="error", message=f"{field}: {message}")


def _registration_out(outcome: Outcome, *, dry_run: bool) -> RegistrationOut:
    return RegistrationOut(
        dry_run=dry_run,
        registered=False,
        entities=[str(e.ref) for e in outcome.entities],
        problems=[_problem(p) for p in outcome.problems],
        shadowed=[f"{ref} (defined in {where})" for ref, where in outcome.shadowed],
    )


def _error(status: int, detail: str, problems: list[ProblemOut] | None = None) -> JSONResponse:
    body = ErrorOut(detail=detail, problems=problems or [])
    return JSONResponse(body.model_dump(), status_code=status)
