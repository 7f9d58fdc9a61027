"""The scrutiny panel over HTTP: its reports and the pack, conversations held, case-file audits and
welfare checks recorded in bulk."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from pathway.api import schemas
from pathway.api.deps import IdempotencyHeader, IfMatchHeader, etag, expected_version, get_access, idempotency_key
from pathway.api.report_schemas import REPLIES
from pathway.api.routes.episodes import ERRORS
from pathway.api.routes.reports import REPLY, From, Text, To
from pathway.domain.commands import Move, fields_of
from pathway.domain.conversations import KIND as CONVERSATION
from pathway.domain.events import KINDS
from pathway.errors import ValidationError
from pathway.services.auth import Access

router = APIRouter(tags=["scrutiny"])
AUDITS_ROWS = list[REPLIES["audits"]]  # noqa: F821 - a key of REPLIES, not a forward reference


def By():  # noqa: N802 - a fresh parameter declaration per use
    return Query(default=None, min_length=1, max_length=16, description="week, month or period (the whole period)")


@router.get("/reports/three_conversations", response_model=list[REPLIES["three_conversations"]], **REPLY)
def three_conversations(access: Access = Depends(get_access), start: str | None = From(), end: str | None = To(),
                        by: str | None = By(), cohort: str | None = Text(), team: str | None = Text(),
                        day_mode: str | None = Text()):
    """The period's contacts followed on, per period and cohort: counts, rates with 95 % Wilson intervals,
    new people needing long-term support per week, days to the first conversation held."""
    return access.report("three_conversations", start=start, end=end, by=by, cohort=cohort, team=team,
                         day_mode=day_mode)


@router.get("/reports/first_conversation", response_model=list[REPLIES["first_conversation"]], **REPLY)
def first_conversation(access: Access = Depends(get_access), start: str | None = From(), end: str | None = To(),
                       team: str | None = Text(), day_mode: str | None = Text()):
    """Days to the first conversation held, per conversation and client group."""
    return access.report("first_conversation", start=start, end=end, team=team, day_mode=day_mode)


@router.get("/reports/conversations", response_model=list[REPLIES["conversations"]], **REPLY)
def conversations(access: Access = Depends(get_access), start: str | None = From(), end: str | None = To(),
                  by: str | None = By(), team: str | None = Text()):
    """Conversations held per week or month and mode, with their minutes."""
    return access.report("conversations", start=start, end=end, by=by, team=team)


@router.get("/reports/welfare_checks", response_model=list[REPLIES["welfare_checks"]], **REPLY)
def welfare_checks(access: Access = Depends(get_access), start: str | None = From(), end: str | None = To(),
                   by: str | None = By(), team: str | None = Text()):
    """Welfare checks made per week or month and outcome."""
    return access.report("welfare_checks", start=start, end=end, by=by, team=team)


@router.get("/reports/audits", response_model=AUDITS_ROWS, **REPLY)
def audits_report(access: Access = Depends(get_access), start: str | None = From(), end: str | None = To(),
                  team: str | None = Text(), by: str | None = Text()):
    """Case-file audits per quarter and team (``by=council``: the whole council): sampled, audited, coverage,
    rated good or better with its interval, and the change from the quarter before."""
    return access.scrutiny_report("audits", start=start, end=end, team=team, by=by)


@router.get("/reports/pack", response_class=HTMLResponse, responses=REPLY["responses"])
def pack(access: Access = Depends(get_access), start: str | None = From(), end: str | None = To(),
         team: str | None = Text(), cohort: str | None = Text()):
    """The scrutiny pack: one self-contained, printable HTML document (managers: their team)."""
    return HTMLResponse(access.report("pack", start=start, end=end, team=team, cohort=cohort))


# The conversation's own body: the fields of a move of kind conversation (pathway.domain.events.KINDS).
ConversationCreate = schemas.command_model(
    Move, "ConversationCreate", "A conversation with the person: a move of kind conversation without its trigger.",
    exclude=tuple(f.name for f in fields_of(Move)
                  if f.name not in (*KINDS[CONVERSATION].takes(), "occurred_at", "note", "idempotency_key")),
    required=("status",))


@router.post("/episodes/{episode_id}/conversations", response_model=schemas.EpisodePublic, responses=ERRORS)
def record_conversation(body: ConversationCreate, response: Response, episode_id: schemas.EpisodeId,
                        access: Access = Depends(get_access), header_key: str | None = IdempotencyHeader(),
                        if_match: str | None = IfMatchHeader()):
    """A conversation with the person (integration, duty or manager of its team); the stage stays as it is.
    The same as ``POST /episodes/{id}/events`` with ``trigger: conversation``. The reply's ``ETag`` is the
    episode's new version."""
    command = Move(**{**body.model_dump(), "trigger": CONVERSATION,
                      "idempotency_key": idempotency_key(body.idempotency_key, header_key),
                      "expected_version": expected_version(if_match)})
    ep = access.move(episode_id, command)
    response.headers["ETag"] = etag(ep.version)
    return ep


class SampleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")
    rate: float = Field(description="a fraction above 0 and at most 1, e.g. 0.05")
    seed: int = Field(ge=0, le=2**31 - 1)
    stratify: list[str] = Field(default_factory=list, max_length=2, description="client_group, team")


@router.post("/audits/samples", responses=ERRORS)
def audit_sample(body: SampleCreate, access: Access = Depends(get_access)):
    """A reproducible stratified sample of the episodes active or closed in the period (manager, auditor, admin);
    the same arguments give the same sample."""
    return access.audit_sample(body.start, body.end, body.rate, body.seed, body.stratify)


class AuditCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episode_id: int = Field(ge=1, le=schemas.MAX_INT)
    rating: str = Field(min_length=1, max_length=32,
                        description="outstanding, good, requires_improvement or inadequate")
    audited_on: dt.date | None = None
    themes: list[str] = Field(default_factory=list, max_length=20)
    reason: str | None = Field(default=None, min_length=1, max_length=1000,
                               description="needed when the episode is in no sample")
    auditor: str | None = Field(default=None, min_length=1, max_length=200, description="default: the caller")


@router.post("/audits", status_code=201, responses=ERRORS)
def record_audit(body: AuditCreate, access: Access = Depends(get_access)):
    """A case-file audit (a manager of the episode's team, or an auditor)."""
    fields = body.model_dump(exclude={"episode_id", "rating"})
    return access.record_audit(body.episode_id, body.rating, **fields)


OUTREACH_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}}


@router.post("/outreach", responses={**ERRORS, 415: {}}, openapi_extra=OUTREACH_BODY)
async def import_outreach(request: Request, access: Access = Depends(get_access)):
    """Welfare checks made, as CSV (person_ref, team, when, outcome[, client_group]), all or nothing: a bad
    file is refused with every bad row listed by line (``errors: [{line, reason}]``), writing nothing."""
    body = (await request.body()).decode("utf-8-sig", errors="replace")
    if "\n" not in body:
        raise ValidationError("send the checks as CSV text: a header line and one line per check", field="body")
    summary = await run_in_threadpool(access.import_outreach, body)
    return summary.to_dict()
