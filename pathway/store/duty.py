"""The duty desk's SQL: the team queue in claim order, the claim's pick and move, and caseloads.

The crisis test and the claim order are the domain's (pathway.domain.duty), written here as SQL
once: the queue listing, the board and every claim use these expressions.

Concurrency. On PostgreSQL a claim locks the claiming worker's row (``FOR UPDATE``) and then takes
the first waiting episode with ``FOR UPDATE SKIP LOCKED``, so claimers never wait on each other's
candidate; the caseload is counted again by the claim's move, a later statement than the worker's
lock, so two claims by the same worker cannot both pass the cap. Every allocation locks the worker
before the episode: one lock order, no deadlock. On SQLite a writing unit of work starts with
``BEGIN IMMEDIATE`` (writers take turns) and the move applies only from the version it read.
"""

from __future__ import annotations

import datetime as dt
import functools

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain import duty as rules
from pathway.domain.episode import EpisodeState
from pathway.domain.stages import WAITING
from pathway.store.db import driven
from pathway.store.episodes import (
    GUARDED_UPDATE,
    HELD,
    STATE_COLUMNS,
    STATE_SET,
    Episodes,
    move_params,
    move_statement,
    state_values,
)
from pathway.store.tables import EPISODE, TEAM, WORKER
from pathway.store.workforce import AWAY, LOADS, WEIGHTED_HELD, skilled

IS_CRISIS = sa.or_(EPISODE.c.stage == rules.CRISIS_STAGE, EPISODE.c.priority == rules.CRISIS_PRIORITY)
RANK = sa.case((IS_CRISIS, rules.CRISIS_RANK),
               *((EPISODE.c.priority == p, r) for p, r in rules.PRIORITY_RANK.items()),
               else_=rules.OTHER_RANK)
# THE claim order (pathway.domain.duty.claim_key, as SQL).
CLAIM_ORDER = (RANK, EPISODE.c.wait_from.asc(), EPISODE.c.id.asc())

# The team's waiting episodes, in claim order (parameter: team).
WAITING_IN = (sa.select(EPISODE.c.id)
              .where(EPISODE.c.team == sa.bindparam("team"), EPISODE.c.stage.in_(WAITING))
              .order_by(*CLAIM_ORDER))
QUEUE = WAITING_IN.with_only_columns(*STATE_COLUMNS)
EPISODE_FOR_UPDATE = sa.select(*STATE_COLUMNS).where(EPISODE.c.id == sa.bindparam("id")).with_for_update()

# The claimer's cap when they are of the queue's team (their own, else the configured default;
# parameter default_cap), else NULL: another team's worker, or an unknown one, can take nothing.
CLAIMER_CAP = (sa.select(sa.func.coalesce(WORKER.c.caseload_cap, sa.bindparam("default_cap")))
               .where(WORKER.c.key == sa.bindparam("worker"), WORKER.c.team == sa.bindparam("team"))
               .scalar_subquery())
# With weighted caseloads (settings.workforce.weighting): the same cap times the claimer's FTE.
CLAIMER_CAP_FTE = (sa.select(sa.func.coalesce(WORKER.c.caseload_cap, sa.bindparam("default_cap")) * WORKER.c.fte)
                   .where(WORKER.c.key == sa.bindparam("worker"), WORKER.c.team == sa.bindparam("team"))
                   .scalar_subquery())
# Room on the claimer's caseload, counted or weighted (keyed by weighting).
ROOM = {False: HELD < CLAIMER_CAP, True: WEIGHTED_HELD < CLAIMER_CAP_FTE}
# The claimer's row, locked, is of the queue's team. A scalar subquery, so PostgreSQL evaluates it
# once, as a one-time filter, before the scan whose rows it then sorts and locks: the worker is
# locked before any episode, the one lock order (SQLite has no FOR UPDATE and needs none: its
# writers take turns).
# An inactive worker's row is not found: they take nothing.
CLAIMER_LOCKED_IN_TEAM = (sa.select(WORKER.c.team).where(WORKER.c.key == sa.bindparam("worker"), WORKER.c.active)
                          .with_for_update().scalar_subquery() == sa.bindparam("team"))


# The claim's pick: the claimer's row locked, then the first claimable episode, FOR UPDATE SKIP LOCKED.
#
# One thing it sees as of its own start, which may be before it got the worker's lock: the
# caseload. That does no harm, because the claim's move counts it again in a later statement, which
# sees every allocation to this worker that committed before the lock was granted (and none can
# commit after it until this claim ends); a move that refuses writes nothing.
@functools.lru_cache(maxsize=64)
def pick_statement(crisis_over_cap: bool, rules: tuple = (), weighted: bool = False) -> sa.Select:
    """The claim's pick (parameters: team, worker, default_cap, today) for the configured crisis rule,
    skill rules (pathway.domain.workforce) and weighting, built once per configuration."""
    # The caseload is counted once per claim (an uncorrelated subquery), not once per episode.
    claimable = ROOM[weighted]
    if crisis_over_cap:
        claimable = sa.or_(claimable, IS_CRISIS)
    # An absent worker takes nothing (one uncorrelated test); a skill rule leaves only the people
    # this worker is skilled for, in the same order.
    conditions = [CLAIMER_LOCKED_IN_TEAM, ~AWAY, claimable]
    if (skill_test := skilled(rules)) is not None:
        conditions.append(skill_test)
    # The first claimable episode's id, locked: the sort carries only the claim order's columns.
    first = (WAITING_IN.where(*conditions).limit(1)
             .with_for_update(skip_locked=True).correlate(None).scalar_subquery())
    # Locked again by the outer query (a no-op: it is this transaction's lock) so that the row comes
    # back as it is now, should another transaction have changed it since this statement began.
    return sa.select(*STATE_COLUMNS).where(EPISODE.c.id == first).with_for_update(of=EPISODE)


# The claim's guard: the worker is under cap, or the episode is a crisis that may go over
# (parameter crisis_ok, decided by pathway.domain.duty.enforce_cap's rule).
UNDER_CAP = {w: sa.or_(ROOM[w], sa.bindparam("crisis_ok", type_=sa.Boolean)) for w in (False, True)}
CLAIM_MOVE = {w: move_statement(UNDER_CAP[w]) for w in (False, True)}
CLAIM_UPDATE = {w: GUARDED_UPDATE.where(UNDER_CAP[w]).values(STATE_SET) for w in (False, True)}
# When the pick finds nothing: the claimer's row with their caseload (counted after the pick locked
# the row, so exact), and the queue's first waiting episode (not locked: another claimer may hold it).
CLAIMER = sa.select(WORKER.c.key, WORKER.c.team, WORKER.c.caseload_cap, HELD.label("load"), WORKER.c.active,
                    AWAY.label("away"), WORKER.c.fte, WEIGHTED_HELD.label("weighted_load")).where(
    WORKER.c.key == sa.bindparam("worker"))
CLAIMER_KEYS = ("key", "team", "caseload_cap", "load", "active", "away", "fte", "weighted_load")
FIRST_WAITING = QUEUE.limit(1)


@functools.lru_cache(maxsize=64)
def first_waiting_statement(rules: tuple = ()) -> sa.Select:
    """The queue's first waiting episode this worker is skilled for (parameters: team, worker)."""
    skill_test = skilled(rules)
    return FIRST_WAITING if skill_test is None else QUEUE.where(skill_test).limit(1)

TEAM_KNOWN = sa.select(TEAM.c.key).where(TEAM.c.key == sa.bindparam("team"))
CASELOADS = (sa.select(WORKER.c.key, WORKER.c.team, WORKER.c.caseload_cap, WORKER.c.fte,
                       sa.func.coalesce(LOADS.c.n, 0).label("n"),
                       sa.func.coalesce(LOADS.c.weight, sa.literal(0.0, sa.Float)).label("weight"))
             .select_from(WORKER.outerjoin(LOADS, LOADS.c.worker == WORKER.c.key))
             .order_by(WORKER.c.team, WORKER.c.key))


def claim_params(before: EpisodeState, state: EpisodeState, event: dict, now: dt.datetime, *, team: str,
                 worker: str, default_cap: int, crisis_ok: bool) -> dict:
    params = move_params(before, state, event, now)
    params.update(team=team, worker=worker, default_cap=default_cap, crisis_ok=crisis_ok)
    return params


class Duty:
    """The duty desk on one SQLAlchemy connection (SQLite, and PostgreSQL outside a claim's fast path)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def queue(self, team: str) -> list[EpisodeState]:
        return [EpisodeState(*row) for row in self.conn.execute(QUEUE, {"team": team})]

    def caseloads(self, team: str | None = None) -> list[dict]:
        """Every worker (of ``team``) with their caseload ``n``, by team then worker."""
        q = CASELOADS if team is None else CASELOADS.where(WORKER.c.team == team)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def episode_for_update(self, episode_id: int) -> EpisodeState | None:
        """The episode, locked until the unit ends (waiting for, not skipping, a claimer holding it)."""
        row = self.conn.execute(EPISODE_FOR_UPDATE, {"id": episode_id}).first()
        return None if row is None else EpisodeState(*row)

    # a claim of the next one: the same five steps on either database

    def pick(self, team: str, worker: str, default_cap: int, crisis_over_cap: bool, *, today: dt.date,
             rules: tuple = (), weighted: bool = False) -> EpisodeState | None:
        row = self.conn.execute(pick_statement(crisis_over_cap, rules, weighted),
                                {"team": team, "worker": worker, "default_cap": default_cap, "today": today}).first()
        return None if row is None else EpisodeState(*row)

    def claimer(self, worker: str, today: dt.date) -> dict | None:
        row = self.conn.execute(CLAIMER, {"worker": worker, "today": today}).first()
        return None if row is None else dict(zip(CLAIMER_KEYS, row, strict=True))

    def first_waiting(self, team: str, worker: str, rules: tuple = ()) -> EpisodeState | None:
        row = self.conn.execute(first_waiting_statement(rules), {"team": team, "worker": worker}).first()
        return None if row is None else EpisodeState(*row)

    def team_known(self, team: str) -> bool:
        return self.conn.execute(TEAM_KNOWN, {"team": team}).first() is not None

    def claim_move(self, before: EpisodeState, state: EpisodeState, event: dict, now: dt.datetime, *,
                   weighted: bool = False, **guard) -> bool:
        """The claim's write: only from ``before.version`` and while the worker is under cap (or
        ``crisis_ok``); False, nothing written, otherwise."""
        params = {f"u_{k}": v for k, v in state_values(state).items()}
        params.update(b_id=before.id, b_version=before.version, team=guard["team"], worker=guard["worker"],
                      default_cap=guard["default_cap"], crisis_ok=guard["crisis_ok"])
        if self.conn.execute(CLAIM_UPDATE[weighted], params).rowcount != 1:
            return False
        Episodes(self.conn).append(state, event, now)
        return True


class PostgresClaim:
    """A claim of the next one on PostgreSQL, run by psycopg itself on a pooled connection: the same
    methods as :class:`Duty`'s claim, each statement prepared on its first run on that connection,
    without SQLAlchemy's execution (most of a claim's Python time). BEGIN (psycopg's own), the pick,
    the move, COMMIT: the four round trips of a bare ``FOR UPDATE SKIP LOCKED`` + ``UPDATE`` loop.
    See docs/decisions/0004-claim-four-round-trips.md."""

    def __init__(self, cursor):
        self.cur = cursor

    def pick(self, team: str, worker: str, default_cap: int, crisis_over_cap: bool, *, today: dt.date,
             rules: tuple = (), weighted: bool = False) -> EpisodeState | None:
        row = driven(pick_statement(crisis_over_cap, rules, weighted)).fetch(
            self.cur, {"team": team, "worker": worker, "default_cap": default_cap, "today": today})
        return None if row is None else EpisodeState(*row)

    def claimer(self, worker: str, today: dt.date) -> dict | None:
        row = driven(CLAIMER).fetch(self.cur, {"worker": worker, "today": today})
        return None if row is None else dict(zip(CLAIMER_KEYS, row, strict=True))

    def first_waiting(self, team: str, worker: str, rules: tuple = ()) -> EpisodeState | None:
        row = driven(first_waiting_statement(rules)).fetch(self.cur, {"team": team, "worker": worker})
        return None if row is None else EpisodeState(*row)

    def team_known(self, team: str) -> bool:
        return driven(TEAM_KNOWN).fetch(self.cur, {"team": team}) is not None

    def claim_move(self, before: EpisodeState, state: EpisodeState, event: dict, now: dt.datetime, *,
                   weighted: bool = False, **guard) -> bool:
        params = claim_params(before, state, event, now, **guard)
        return driven(CLAIM_MOVE[weighted]).fetch(self.cur, params) is not None
