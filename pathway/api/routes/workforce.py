"""The workforce over HTTP: a worker's skills, role, FTE and line manager, absences, releasing their
people, supervision, and the supervision report."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from pathway.api import schemas
from pathway.api.deps import get_access
from pathway.api.report_schemas import REPLIES
from pathway.api.routes.duty import ERRORS
from pathway.api.routes.duty import TeamKey as WorkerKey  # the same key pattern
from pathway.api.routes.reports import Text
from pathway.services.auth import Access
from pathway.services.workforce_access import WorkforceAccess

router = APIRouter(tags=["workforce"])


def workforce(access: Access = Depends(get_access)) -> WorkforceAccess:
    return WorkforceAccess(access)


class Skills(schemas.Request):
    skills: list[str] = Field(max_length=50, description="every skill the worker carries (settings.workforce.skills)",
                              examples=[["learning_disability", "autism"]])


class ProfileChange(schemas.Request):
    role: str | None = Field(default=None, max_length=16, description="practitioner or manager")
    fte: float | None = Field(default=None, description="full-time equivalent, above 0 and at most 1")
    line_manager: str | None = Field(default=None, min_length=1, max_length=64,
                                     description="a worker with role manager")
    clear_line_manager: bool = Field(default=False, description="remove the worker's line manager")


class Profile(BaseModel):
    worker: str
    team: str
    role: str
    fte: float
    line_manager: str | None
    caseload_cap: int | None
    skills: list[str]


class AbsenceCreate(schemas.Request):
    start: dt.date = Field(strict=False, description="first day away (London date)")
    end: dt.date = Field(strict=False, description="last day away (London date, included)")
    reason: str = Field(max_length=16, description="leave, sickness, training or other: a category, no medical detail")


class AbsencePublic(BaseModel):
    id: int
    worker: str
    start: dt.date
    end: dt.date
    reason: str
    recorded_at: dt.datetime
    recorded_by: str


class ReleaseAll(schemas.Request):
    reason: str = Field(max_length=16, description="leave, sickness, training, other, leaving or rebalancing")


class Reweigh(schemas.Request):
    weight: float = Field(description="the episode's weight in its worker's caseload (1 is an ordinary case)")
    reason: str = Field(min_length=1, max_length=200, description="why it weighs this much")


class Weight(BaseModel):
    episode_id: int
    team: str
    worker: str | None
    weight: float
    reason: str


class SupervisionCreate(schemas.Request):
    supervisor: str = Field(min_length=1, max_length=64, description="a worker with role manager")
    on: dt.date = Field(strict=False, description="the day of the session (not in the future)")
    minutes: int = Field(description="how long it lasted, in minutes")
    sampled: bool = Field(default=False, description="whether its record was sampled for quality")


class SupervisionPublic(BaseModel):
    id: int
    worker: str
    supervisor: str
    on: dt.date
    minutes: int
    sampled: bool
    recorded_by: str


@router.get("/workers/{worker}/profile", response_model=Profile, responses=ERRORS)
def profile(worker: str = WorkerKey(), wf: WorkforceAccess = Depends(workforce)):
    """The worker's role, FTE, line manager and skills (admin, manager of the team, the worker)."""
    return wf.profile(worker)


@router.put("/workers/{worker}/skills", response_model=Profile, responses=ERRORS)
def set_skills(body: Skills, worker: str = WorkerKey(), wf: WorkforceAccess = Depends(workforce)):
    """Replace the worker's skills (admin, manager of the team)."""
    return wf.set_skills(worker, body.skills)


@router.patch("/workers/{worker}/profile", response_model=Profile, responses=ERRORS)
def update(body: ProfileChange, worker: str = WorkerKey(), wf: WorkforceAccess = Depends(workforce)):
    """Change the worker's role, FTE or line manager (admin, manager of the team)."""
    return wf.update(worker, **body.model_dump(exclude_unset=True))


@router.post("/workers/{worker}/absences", response_model=AbsencePublic, status_code=201, responses=ERRORS)
def add_absence(body: AbsenceCreate, worker: str = WorkerKey(), wf: WorkforceAccess = Depends(workforce)):
    """Record an absence (admin, manager of the team): an absent worker cannot claim or be allocated to."""
    return wf.add_absence(worker, body.start, body.end, body.reason)


@router.get("/workers/{worker}/absences", response_model=list[AbsencePublic], responses=ERRORS)
def absences(worker: str = WorkerKey(), wf: WorkforceAccess = Depends(workforce)):
    return wf.absences(worker)


@router.post("/workers/{worker}/release-all", response_model=list[schemas.EpisodePublic], responses=ERRORS)
def release_all(body: ReleaseAll, worker: str = WorkerKey(), wf: WorkforceAccess = Depends(workforce)):
    """Every active episode of the worker back to its queue, in one transaction (admin, manager of the team)."""
    return wf.release_all(worker, body.reason)


@router.put("/episodes/{episode_id}/weight", response_model=Weight, responses=ERRORS)
def reweigh(body: Reweigh, episode_id: int = PathParam(ge=1, le=schemas.MAX_INT),
            wf: WorkforceAccess = Depends(workforce)):
    """Set how much an open episode weighs in its worker's caseload (admin, manager of the team)."""
    return wf.reweigh(episode_id, body.weight, body.reason)


@router.post("/workers/{worker}/supervisions", response_model=SupervisionPublic, status_code=201,
             responses=ERRORS)
def record_supervision(body: SupervisionCreate, worker: str = WorkerKey(), wf: WorkforceAccess = Depends(workforce)):
    """Record a supervision session (admin, manager of the team)."""
    return wf.record_supervision(worker, body.supervisor, body.on, body.minutes, body.sampled)


@router.get("/workers/{worker}/supervisions", response_model=list[SupervisionPublic], responses=ERRORS)
def supervisions(worker: str = WorkerKey(), wf: WorkforceAccess = Depends(workforce)):
    """The worker's supervision sessions (admin, manager of the team, the worker themself)."""
    return wf.supervisions(worker)


SUPERVISION_ROW = REPLIES["supervision"]


@router.get("/reports/supervision", response_model=list[SUPERVISION_ROW], responses=ERRORS,
            tags=["reports"], response_model_exclude_unset=True)
def supervision_report(wf: WorkforceAccess = Depends(workforce), as_at: str | None = Text(),
                       team: str | None = Text(), by: str | None = Text()):
    """Per worker: supervisions in the 12 months to ``as_at`` against the standard, hours, the last one,
    overdue; ``by=manager``: each line manager's direct reports against the span of control."""
    return wf.supervision_report(as_at=as_at, team=team, by=by)
