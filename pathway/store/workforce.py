"""The workforce's SQL: skills, absences, line management, supervision, their audit log, and the
supervision report's set-based statements.

The claim's skill and absence tests are SQL expressions here too (:func:`skilled`, :data:`AWAY`), so
the duty desk's pick (pathway.store.duty) and the queue's marks use the same ones.
"""

from __future__ import annotations

import datetime as dt
import functools

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain.episode import EpisodeState
from pathway.domain.stages import ACTIVE
from pathway.domain.workforce import Rule, ordered
from pathway.store.episodes import AWAY, STATE_COLUMNS
from pathway.store.tables import (
    ABSENCE,
    EPISODE,
    EPISODE_WEIGHT,
    SUPERVISION,
    WORKER,
    WORKER_SKILL,
    WORKFORCE_EVENT,
)

WORKER_SKILLS = sa.select(WORKER_SKILL.c.skill).where(WORKER_SKILL.c.worker == sa.bindparam("worker"))
# An episode's weight in its worker's caseload: 1 unless reweighed.
WEIGHT = sa.func.coalesce(EPISODE_WEIGHT.c.weight, sa.literal(1.0, sa.Float))
# A worker's weighted caseload (parameter: worker): the weights of their ``*_active`` episodes.
_HELD_W = EPISODE.alias("held_w")
WEIGHTED_HELD = (sa.select(sa.func.coalesce(sa.func.sum(WEIGHT), sa.literal(0.0, sa.Float)))
                 .select_from(_HELD_W.outerjoin(EPISODE_WEIGHT, EPISODE_WEIGHT.c.episode_id == _HELD_W.c.id))
                 .where(_HELD_W.c.worker == sa.bindparam("worker"), _HELD_W.c.stage.in_(ACTIVE))
                 .scalar_subquery())


@functools.lru_cache(maxsize=64)
def required_skill(rules: tuple[Rule, ...]) -> sa.ColumnElement | None:
    """The skill an episode row needs (pathway.domain.workforce.required_skill, as SQL), or None when
    no rule is configured."""
    if not rules:
        return None
    whens = []
    for group, skill, team, stage in ordered(rules):
        conditions = [EPISODE.c.client_group == group]
        if team is not None:
            conditions.append(EPISODE.c.team == team)
        if stage is not None:
            conditions.append(EPISODE.c.stage == stage)
        whens.append((sa.and_(*conditions), skill))
    return sa.case(*whens, else_=sa.null())


@functools.lru_cache(maxsize=64)
def skilled(rules: tuple[Rule, ...]) -> sa.ColumnElement | None:
    """The worker (parameter: worker) has the skill the episode row needs, or it needs none. The
    worker's skills are an uncorrelated subquery: read once per statement, not once per row."""
    need = required_skill(rules)
    if need is None:
        return None
    return sa.or_(need.is_(None), need.in_(WORKER_SKILLS))


# Each worker's caseload: their active episodes counted (n) and weighed (weight).
LOADS = (sa.select(EPISODE.c.worker, sa.func.count().label("n"), sa.func.sum(WEIGHT).label("weight"))
         .select_from(EPISODE.outerjoin(EPISODE_WEIGHT, EPISODE_WEIGHT.c.episode_id == EPISODE.c.id))
         .where(EPISODE.c.stage.in_(ACTIVE), EPISODE.c.worker.is_not(None))
         .group_by(EPISODE.c.worker).subquery())
_AWAY_NOW = (sa.select(ABSENCE.c.worker, sa.func.max(ABSENCE.c.reason).label("reason"),
                       sa.func.max(ABSENCE.c.end).label("until"))
             .where(ABSENCE.c.start <= sa.bindparam("today"), ABSENCE.c.end >= sa.bindparam("today"))
             .group_by(ABSENCE.c.worker).subquery())
# Each worker of a team with what decides whether they could take someone now: their cap and
# caseload, whether they are away today (and why, until when), and their skills (one row per skill).
ON_DUTY = (sa.select(WORKER.c.key, WORKER.c.caseload_cap, WORKER.c.fte,
                     sa.func.coalesce(LOADS.c.n, 0).label("load"),
                     sa.func.coalesce(LOADS.c.weight, sa.literal(0.0, sa.Float)).label("weight"),
                     _AWAY_NOW.c.reason.label("away"), _AWAY_NOW.c.until, WORKER_SKILL.c.skill)
           .select_from(WORKER.outerjoin(LOADS, LOADS.c.worker == WORKER.c.key)
                        .outerjoin(_AWAY_NOW, _AWAY_NOW.c.worker == WORKER.c.key)
                        .outerjoin(WORKER_SKILL, WORKER_SKILL.c.worker == WORKER.c.key))
           .where(WORKER.c.team == sa.bindparam("team"))
           .order_by(WORKER.c.key))
AWAY_TODAY = sa.select(_AWAY_NOW)

# -- the supervision report: per worker over the rolling year, and per line manager ------------------
_YEAR = ((SUPERVISION.c.on > sa.bindparam("since")) & (SUPERVISION.c.on <= sa.bindparam("as_at")))
_SESSIONS = (sa.select(SUPERVISION.c.worker,
                       sa.func.count().label("sessions"),
                       sa.func.sum(sa.case((SUPERVISION.c.minutes >= sa.bindparam("minutes"), 1), else_=0))
                       .label("full_sessions"),
                       sa.func.sum(SUPERVISION.c.minutes).label("minutes"),
                       sa.func.sum(sa.case((SUPERVISION.c.sampled, 1), else_=0)).label("sampled"),
                       sa.func.max(SUPERVISION.c.on).label("last_session"),
                       sa.func.max(sa.case((SUPERVISION.c.minutes >= sa.bindparam("minutes"), SUPERVISION.c.on)))
                       .label("last_full_session"))
             .where(_YEAR).group_by(SUPERVISION.c.worker).subquery())
SUPERVISION_BY_WORKER = (
    sa.select(WORKER.c.key.label("worker"), WORKER.c.team, WORKER.c.role, WORKER.c.line_manager,
              sa.func.coalesce(_SESSIONS.c.sessions, 0).label("sessions"),
              sa.func.coalesce(_SESSIONS.c.full_sessions, 0).label("full_sessions"),
              sa.func.coalesce(_SESSIONS.c.minutes, 0).label("minutes"),
              sa.func.coalesce(_SESSIONS.c.sampled, 0).label("sampled"),
              _SESSIONS.c.last_session, _SESSIONS.c.last_full_session)
    .select_from(WORKER.outerjoin(_SESSIONS, _SESSIONS.c.worker == WORKER.c.key))
    .order_by(WORKER.c.team, WORKER.c.key))
_MANAGER = WORKER.alias("manager")
_REPORTS = (sa.select(WORKER.c.line_manager, sa.func.count().label("direct_reports"))
            .where(WORKER.c.line_manager.is_not(None)).group_by(WORKER.c.line_manager).subquery())
SPANS = (sa.select(_MANAGER.c.key.label("manager"), _MANAGER.c.team,
                   sa.func.coalesce(_REPORTS.c.direct_reports, 0).label("direct_reports"))
         .select_from(_MANAGER.outerjoin(_REPORTS, _REPORTS.c.line_manager == _MANAGER.c.key))
         .where(sa.or_(_MANAGER.c.role == "manager", _REPORTS.c.direct_reports.is_not(None)))
         .order_by(_MANAGER.c.team, _MANAGER.c.key))


class Workforce:
    """The workforce's tables on one connection (the SQL is the same on SQLite and PostgreSQL)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    # skills, role, FTE, line management

    def skills(self, worker: str) -> frozenset[str]:
        return frozenset(self.conn.execute(WORKER_SKILLS, {"worker": worker}).scalars())

    def set_skills(self, worker: str, skills: list[str]) -> None:
        self.conn.execute(WORKER_SKILL.delete().where(WORKER_SKILL.c.worker == worker))
        if skills:
            self.conn.execute(WORKER_SKILL.insert(), [{"worker": worker, "skill": s} for s in skills])

    def update_worker(self, worker: str, values: dict) -> None:
        self.conn.execute(WORKER.update().where(WORKER.c.key == worker).values(**values))

    def line_managers(self) -> dict[str, str | None]:
        """Every worker's line manager (to find a cycle before it is made)."""
        return dict(self.conn.execute(sa.select(WORKER.c.key, WORKER.c.line_manager)).all())

    # absences

    def absences(self, worker: str) -> list[dict]:
        q = (sa.select(ABSENCE.c.id, ABSENCE.c.worker, ABSENCE.c.start, ABSENCE.c.end, ABSENCE.c.reason,
                       ABSENCE.c.recorded_at, ABSENCE.c.recorded_by)
             .where(ABSENCE.c.worker == worker).order_by(ABSENCE.c.start))
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def add_absence(self, row: dict) -> int:
        return self.conn.execute(ABSENCE.insert().values(**row).returning(ABSENCE.c.id)).scalar_one()

    def away(self, worker: str, today: dt.date) -> bool:
        return bool(self.conn.execute(sa.select(AWAY), {"worker": worker, "today": today}).scalar())

    def away_today(self, today: dt.date) -> dict[str, dict]:
        """Workers away on ``today``: {worker: {away: reason, until: last day}}."""
        return {r.worker: {"away": r.reason, "until": r.until}
                for r in self.conn.execute(AWAY_TODAY, {"today": today})}

    def on_duty(self, team: str, today: dt.date) -> list[dict]:
        """The team's workers: cap, FTE, caseload counted and weighed, away (reason or None) and skills, by key."""
        out: dict[str, dict] = {}
        for r in self.conn.execute(ON_DUTY, {"team": team, "today": today}):
            w = out.setdefault(r.key, {"key": r.key, "caseload_cap": r.caseload_cap, "fte": r.fte, "load": r.load,
                                       "weight": r.weight, "away": r.away, "until": r.until, "skills": set()})
            if r.skill is not None:
                w["skills"].add(r.skill)
        return list(out.values())

    def weighted_load(self, worker: str) -> float:
        return float(self.conn.execute(sa.select(WEIGHTED_HELD), {"worker": worker}).scalar_one())

    def set_weight(self, row: dict) -> None:
        self.conn.execute(EPISODE_WEIGHT.delete().where(EPISODE_WEIGHT.c.episode_id == row["episode_id"]))
        self.conn.execute(EPISODE_WEIGHT.insert().values(**row))

    def weight(self, episode_id: int) -> float:
        found = self.conn.execute(sa.select(EPISODE_WEIGHT.c.weight)
                                  .where(EPISODE_WEIGHT.c.episode_id == episode_id)).scalar()
        return 1.0 if found is None else found

    def active_of(self, worker: str) -> list[EpisodeState]:
        """The worker's active episodes, oldest first, locked (PostgreSQL) until the unit ends."""
        q = (sa.select(*STATE_COLUMNS).where(EPISODE.c.worker == worker, EPISODE.c.stage.in_(ACTIVE))
             .order_by(EPISODE.c.id).with_for_update())
        return [EpisodeState(*r) for r in self.conn.execute(q)]

    # supervision

    def add_supervision(self, row: dict) -> int:
        return self.conn.execute(SUPERVISION.insert().values(**row).returning(SUPERVISION.c.id)).scalar_one()

    def supervisions(self, worker: str) -> list[dict]:
        q = (sa.select(SUPERVISION.c.id, SUPERVISION.c.worker, SUPERVISION.c.supervisor, SUPERVISION.c.on,
                       SUPERVISION.c.minutes, SUPERVISION.c.sampled, SUPERVISION.c.recorded_by)
             .where(SUPERVISION.c.worker == worker).order_by(SUPERVISION.c.on, SUPERVISION.c.id))
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def supervision_by_worker(self, as_at: dt.date, since: dt.date, minutes: int, team: str | None) -> list[dict]:
        q = SUPERVISION_BY_WORKER if team is None else SUPERVISION_BY_WORKER.where(WORKER.c.team == team)
        params = {"as_at": as_at, "since": since, "minutes": minutes}
        return [dict(r) for r in self.conn.execute(q, params).mappings()]

    def spans(self, team: str | None) -> list[dict]:
        q = SPANS if team is None else SPANS.where(_MANAGER.c.team == team)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    # the audit log

    def record(self, worker: str, kind: str, data: dict, actor: str, now: dt.datetime) -> None:
        self.conn.execute(WORKFORCE_EVENT.insert().values(worker=worker, kind=kind, data=data, actor=actor,
                                                          recorded_at=now))

    def log(self, worker: str) -> list[dict]:
        q = (sa.select(WORKFORCE_EVENT.c.id, WORKFORCE_EVENT.c.kind, WORKFORCE_EVENT.c.data,
                       WORKFORCE_EVENT.c.actor, WORKFORCE_EVENT.c.recorded_at)
             .where(WORKFORCE_EVENT.c.worker == worker).order_by(WORKFORCE_EVENT.c.id))
        return [dict(r) for r in self.conn.execute(q).mappings()]
