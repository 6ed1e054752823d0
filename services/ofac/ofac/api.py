"""HTTP routes of the ofac service."""

from __future__ import annotations

import dataclasses
import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from paykit import ProblemError
from paykit.identity import allow
from paykit.openapi import problems

from . import usecases
from .countries import country_key
from .domain import MatchView
from .identifiers import normalize_id
from .index import Filters
from .lists import ListHolder
from .matching import Query as ScreeningQuery
from .schemas import (
    ID_CHARS_MAX,
    CheckSanctionsBatchRequest,
    CheckSanctionsBatchResponse,
    CheckSanctionsRequest,
    CheckSanctionsResponse,
    ListInfo,
    MatchOut,
    ReloadRequest,
    ReloadResponse,
    SearchResponse,
    ThresholdsOut,
)

router = APIRouter()
SEARCH_LIMIT_MAX = 100


def _holder(request: Request) -> ListHolder:
    holder: ListHolder = request.app.state.lists
    return holder


def _out(m: MatchView) -> MatchOut:
    return MatchOut(
        entity_id=m.entity_id,
        name=m.name,
        matched_name=m.matched_name,
        matched_kind=m.matched_kind,
        score=m.score,
        type=m.type,
        programs=list(m.programs),
        countries=list(m.countries),
        list=m.list,
        name_score=m.name_score,
        band=m.band,
        agreed=list(m.agreed),
        disagreed=list(m.disagreed),
        list_version=m.list_version,
    )


def _query(body: CheckSanctionsRequest, name: str | None) -> ScreeningQuery | None:
    if name is None:
        return None
    countries = frozenset(
        country_key(c) for c in (body.country, body.nationality, body.address_country) if c and c.strip()
    )
    # "IMO 9876543" and "9876543" are the same IMO number.
    imo = [normalize_id(body.imo).removeprefix("IMO")] if body.imo else []
    ids = [*body.id_numbers, *imo]
    return ScreeningQuery.build(
        name,
        entity_type=body.entity_type,
        birth_date=body.date_of_birth,
        birth_year=body.birth_year,
        countries=countries,
        id_numbers=[i[:ID_CHARS_MAX] for i in ids],
    )


@router.post(
    "/check-sanctions",
    response_model=CheckSanctionsResponse,
    tags=["screening"],
    dependencies=[allow("risk", "kyc", "ops")],
    responses=problems(400, 404),
)
async def check_sanctions(body: CheckSanctionsRequest, request: Request) -> CheckSanctionsResponse:
    return await _check(body, request)


@router.post(
    "/check-sanctions/batch",
    response_model=CheckSanctionsBatchResponse,
    tags=["screening"],
    dependencies=[allow("risk", "ops")],
    responses=problems(400, 404),
)
async def check_sanctions_batch(
    body: CheckSanctionsBatchRequest, request: Request
) -> CheckSanctionsBatchResponse:
    """/check-sanctions for each check (a payment's payer and payee) in one call, answered in
    the order asked; a check that /check-sanctions refuses refuses the whole batch."""
    return CheckSanctionsBatchResponse(results=[await _check(check, request) for check in body.checks])


async def _check(body: CheckSanctionsRequest, request: Request) -> CheckSanctionsResponse:
    policy: usecases.ScreeningPolicy = request.app.state.policy
    customer_id = (body.customer_id or "").strip() or None
    name = body.name if body.name and body.name.strip() else None
    if name is None and customer_id is None:
        raise usecases.nothing_to_screen("Send `name` (or `customer_id`) to screen")
    if name is None and customer_id is not None and customer_id not in policy.blocklist:
        name = (await request.app.state.accounts.customer(customer_id)).full_name
    query = _query(body, name)
    result = usecases.check_sanctions(_holder(request), policy, customer_id=customer_id, query=query)
    d = result.decision
    return CheckSanctionsResponse(
        customer_id=customer_id,
        screened_name=name,
        is_sanctioned=d.is_sanctioned,
        review=d.review,
        list_version=result.list_version,
        thresholds=ThresholdsOut(block=policy.thresholds.block, review=policy.thresholds.review),
        matches=[_out(m) for m in d.matches],
        check_timestamp=datetime.now(UTC),
    )


@router.get("/search", response_model=SearchResponse, tags=["screening"], dependencies=[allow("ops")])
async def search(
    request: Request,
    *,
    name: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=SEARCH_LIMIT_MAX)] = 10,
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.8,
    country: Annotated[
        str | None, Query(max_length=200, description="ISO-2 codes or names, comma-separated")
    ] = None,
    type: Annotated[
        str | None, Query(max_length=100, description="individual, entity, vessel, aircraft; comma-separated")
    ] = None,
    program: Annotated[str | None, Query(max_length=200, description="e.g. SDGT,CUBA")] = None,
) -> SearchResponse:
    filters = Filters.build(country, type, program)
    matches, version = usecases.search(
        _holder(request), name=name, limit=limit, min_score=min_score, filters=filters
    )
    return SearchResponse(query=name, list_version=version, matches=[_out(m) for m in matches])


@router.get(
    "/lists/current", response_model=ListInfo, tags=["lists"], dependencies=[allow("risk", "kyc", "ops")]
)
async def current_list(request: Request) -> ListInfo:
    index = usecases.current_index(_holder(request))
    return ListInfo(
        list_version=index.version,
        entities=index.entity_count,
        names=len(index.names),
        loaded_at=index.loaded_at,
        lists=usecases.list_status(_holder(request)),
    )


# Routes of people holding this token, not of services: its bearer takes the place of a
# service token, so they have no service allow-list (paykit.identity).
def _require_admin(request: Request, authorization: str | None) -> None:
    expected: str = request.app.state.admin_token
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ProblemError(401, "ADMIN_TOKEN_REQUIRED", "A valid admin bearer token is required")


@router.post(
    "/admin/lists/reload", response_model=ReloadResponse, tags=["lists"], responses=problems(400, 401, 503)
)
async def reload_list(
    request: Request,
    body: ReloadRequest | None = None,
    authorization: Annotated[str | None, Header()] = None,
) -> ReloadResponse:
    _require_admin(request, authorization)
    source = body.source if body else None
    if source is not None:
        _require_allowed_source(request, source)
    index, previous = await usecases.reload_list(_holder(request), source)
    return ReloadResponse(
        list_version=index.version,
        entities=index.entity_count,
        names=len(index.names),
        loaded_at=index.loaded_at,
        previous_version=previous,
        changed=previous != index.version,
    )


def _require_allowed_source(request: Request, source: str) -> None:
    """Only a configured place, and never plain HTTP: a reload cannot be pointed at a list
    an attacker (or a typo) serves."""
    if source.lower().startswith("http://"):
        raise ProblemError(422, "LIST_SOURCE_INSECURE", "Lists are fetched over HTTPS only")
    if source not in request.app.state.settings.reload_sources():
        raise ProblemError(
            422,
            "LIST_SOURCE_NOT_CONFIGURED",
            "Only a configured list source (OFAC_RELOAD_SOURCES) can be loaded",
        )


@router.get("/rescreens", tags=["lists"], responses=problems(401))
async def rescreens(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> dict[str, object]:
    """The last re-screening runs (list change, customers screened, hits, error), newest last."""
    _require_admin(request, authorization)
    rescreener = getattr(request.app.state, "rescreener", None)
    reports = [dataclasses.asdict(r) for r in rescreener.reports] if rescreener else []
    return {"runs": reports}
