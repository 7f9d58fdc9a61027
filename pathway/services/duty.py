"""The duty desk: team queues in claim order, self-allocation, and the caseload caps every allocation obeys.

Each function takes an open connection inside the Engine's unit of work. Claim order is
defined once, in :data:`CLAIM_ORDER`, and used by both the queue listing and the claims.

Concurrency. On PostgreSQL a claim locks the claiming worker's row (``FOR UPDATE``) and then
takes the first waiting episode with ``FOR UPDATE SKIP LOCKED``, so claimers never wait on each
other's candidate; the caseload is counted by a statement that starts after the worker's lock
(the general path's pick, or the fast path's move: see :data:`NEXT_CLAIM`), so two claims by the
same worker cannot both pass the cap check. Every allocation locks the worker before the
episode, so locks are always taken in one order and cannot deadlock. On SQLite a writing unit of work starts with
``BEGIN IMMEDIATE`` (writers take turns) and ``episodes.fire`` updates the episode only
while its version is unchanged, so a claim never lands on a row someone else moved.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain.episode import EpisodeState
from pathway.domain.stages import ACTIVE, WAITING
from pathway.errors import CaseloadFull, Conflict, Forbidden, NotFound
from pathway.services import episodes
from pathway.services.episodes import EPISODE, STATE_FIELDS, WORKER
from pathway.settings import Settings
from pathway.store.db import driven

# -- claim order ---------------------------------------------------------------------------------

# A person in crisis jumps every queue: an episode in conversation 2's queue, or a contact
# recorded with priority "crisis" that still waits in another conversation's queue.
IS_CRISIS = sa.or_(EPISODE.c.stage == "c2_waiting", EPISODE.c.priority == "crisis")

# THE claim order, used by the queue listing and by every claim: crisis first; then priority
# high > normal > low; then longest waiting (wait_from: the contact time for conversation 1,
# the time the c2/c3 queue was entered for the others; a release does not reset it); then
# id, so the order is total and the same on every database. Among crises only the wait counts.
RANK = sa.case((IS_CRISIS, 0), (EPISODE.c.priority == "high", 1), (EPISODE.c.priority == "normal", 2), else_=3)
CLAIM_ORDER = (RANK, EPISODE.c.wait_from.asc(), EPISODE.c.id.asc())


def is_crisis(state: EpisodeState) -> bool:
    """IS_CRISIS for one episode in hand (the over-cap rule asks it of the episode being allocated)."""
    return state.stage == "c2_waiting" or state.priority == "crisis"


STATE_COLUMNS = [EPISODE.c[name] for name in STATE_FIELDS]
# The team's waiting episodes, in claim order (parameter: team). Statements are built once.
WAITING_IN = (sa.select(EPISODE.c.id)
              .where(EPISODE.c.team == sa.bindparam("team"), EPISODE.c.stage.in_(WAITING))
              .order_by(*CLAIM_ORDER))
QUEUE = WAITING_IN.with_only_columns(*STATE_COLUMNS)


def queue(conn: Connection, team: str) -> list[EpisodeState]:
    """Every waiting episode of ``team``, in claim order."""
    episodes.get_team(conn, team)
    return [EpisodeState(**row) for row in conn.execute(QUEUE, {"team": team}).mappings()]


# -- caseloads -----------------------------------------------------------------------------------

def cap_of(settings: Settings, worker_row: dict) -> int:
    return worker_row["caseload_cap"] or settings.caseload.default_cap


_HELD = EPISODE.alias("held")
# A worker's caseload (parameter: worker): every ``*_active`` episode allocated to them.
HELD = (sa.select(sa.func.count()).select_from(_HELD)
        .where(_HELD.c.worker == sa.bindparam("worker"), _HELD.c.stage.in_(ACTIVE)).scalar_subquery())
CASELOAD = sa.select(HELD)


def lock_worker(conn: Connection, worker: str) -> dict:
    """The worker's row, held until the transaction ends (NotFound for an unknown worker).

    While it is held no other allocation to this worker can be checked, so a caseload counted
    by a LATER statement of this transaction cannot be overtaken before it commits. (The count
    must be a later statement: under READ COMMITTED a statement that waited for the lock still
    reads with the snapshot it started with. SQLite has no FOR UPDATE; its writers are
    serialised by BEGIN IMMEDIATE already.)
    """
    return episodes.get_worker(conn, worker, lock=True)


def caseload(conn: Connection, worker: str) -> int:
    return driven(CASELOAD).first(conn, {"worker": worker})[0]


def enforce_cap(settings: Settings, state: EpisodeState, worker_row: dict, load: int) -> None:
    """The one caseload rule: a worker at cap takes nothing more, except a crisis when configured."""
    cap = cap_of(settings, worker_row)
    if load < cap:
        return
    if is_crisis(state) and settings.caseload.crisis_over_cap:
        return
    crisis_note = ("" if settings.caseload.crisis_over_cap
                   else "; crisis contacts may not be taken over cap either (caseload.crisis_over_cap is false)")
    raise CaseloadFull(
        f"worker {worker_row['key']!r} has a caseload of {load} and a cap of {cap}: "
        f"close or release an episode before taking episode {state.id}{crisis_note}",
        worker=worker_row["key"], caseload=load, cap=cap, episode_id=state.id)


def allocation_check(settings: Settings):
    """The ``check_allocation`` hook episodes.fire runs for a manager's allocate: episodes.fire has
    locked the worker's row (lock_worker), so the caseload, counted by this later statement, is exact."""
    def check(conn: Connection, state: EpisodeState, worker_row: dict) -> None:
        enforce_cap(settings, state, worker_row, caseload(conn, worker_row["key"]))
    return check


def caseloads(conn: Connection, settings: Settings, team: str | None = None) -> list[dict]:
    """Each worker's caseload against their cap, by team then worker."""
    if team is not None:
        episodes.get_team(conn, team)
    held = (sa.select(EPISODE.c.worker, sa.func.count().label("n"))
            .where(EPISODE.c.stage.in_(ACTIVE), EPISODE.c.worker.is_not(None))
            .group_by(EPISODE.c.worker).subquery())
    q = (sa.select(WORKER.c.key, WORKER.c.team, WORKER.c.caseload_cap, sa.func.coalesce(held.c.n, 0).label("n"))
         .select_from(WORKER.outerjoin(held, held.c.worker == WORKER.c.key))
         .order_by(WORKER.c.team, WORKER.c.key))
    if team is not None:
        q = q.where(WORKER.c.team == team)
    out = []
    for row in conn.execute(q).mappings():
        cap = row["caseload_cap"] or settings.caseload.default_cap
        out.append({"worker": row["key"], "team": row["team"], "caseload": row["n"], "cap": cap,
                    "free": max(cap - row["n"], 0), "over_cap": row["n"] > cap})
    return out


# -- claims --------------------------------------------------------------------------------------

def _own_team(worker_row: dict, team: str) -> None:
    if worker_row["team"] != team:
        raise Forbidden(f"worker {worker_row['key']!r} is in team {worker_row['team']!r} and may claim only "
                        f"from that team's queue, not from team {team!r}'s", worker=worker_row["key"], team=team)


# The claimer's cap when they are of the queue's team (their own, else the configured default;
# parameter default_cap), else NULL: another team's worker, or an unknown one, can take nothing.
CLAIMER_CAP = (sa.select(sa.func.coalesce(WORKER.c.caseload_cap, sa.bindparam("default_cap")))
               .where(WORKER.c.key == sa.bindparam("worker"), WORKER.c.team == sa.bindparam("team"))
               .scalar_subquery())
# The claimer's row, locked, is of the queue's team. A scalar subquery, so PostgreSQL evaluates it
# once, as a one-time filter, before the scan whose rows it then sorts and locks: the worker is
# locked before any episode, the one lock order (SQLite has no FOR UPDATE and needs none).
CLAIMER_LOCKED_IN_TEAM = (sa.select(WORKER.c.team).where(WORKER.c.key == sa.bindparam("worker"))
                          .with_for_update().scalar_subquery() == sa.bindparam("team"))


def _next_claim(crisis_over_cap: bool) -> sa.Select:
    # The caseload is counted once per claim (an uncorrelated subquery), not once per episode.
    claimable = HELD < CLAIMER_CAP
    if crisis_over_cap:
        claimable = sa.or_(claimable, IS_CRISIS)
    # The first claimable episode's id, locked: the sort carries only the claim order's columns.
    first = (WAITING_IN.where(CLAIMER_LOCKED_IN_TEAM, claimable).limit(1)
             .with_for_update(skip_locked=True).correlate(None).scalar_subquery())
    # Locked again by the outer query (a no-op: it is this transaction's lock) so that the row comes
    # back as it is now, should another transaction have changed it since this statement began.
    return sa.select(*STATE_COLUMNS).where(EPISODE.c.id == first).with_for_update(of=EPISODE)


# Parameters: team, worker, default_cap. Keyed by caseload.crisis_over_cap.
#
# One thing this statement sees as of its own start, which may be before it got the worker's lock:
# the caseload. It cannot do harm, because a claim's move (CLAIM_MOVE) counts it again, in a later
# statement, which sees every allocation to this worker that committed before the lock was granted
# (and none can commit after it until this claim ends); a move that refuses writes nothing.
NEXT_CLAIM = {over: _next_claim(over) for over in (True, False)}
# A claim's move: episodes.MOVE, and only while the worker is under cap, or the episode is a
# crisis that may go over (parameter crisis_ok, decided by enforce_cap's rule).
CLAIM_MOVE = episodes.move_statement(sa.or_(HELD < CLAIMER_CAP, sa.bindparam("crisis_ok", type_=sa.Boolean)))
EPISODE_FOR_UPDATE = sa.select(*STATE_COLUMNS).where(EPISODE.c.id == sa.bindparam("id")).with_for_update()


def claim_next(conn: Connection, settings: Settings, team: str, worker: str, *, actor: str,
               now) -> EpisodeState | None:
    """Allocate the first claimable episode of ``team``'s queue to ``worker``; None if nothing waits.

    A worker at cap may still take a crisis (when configured): the first crisis in the queue.
    """
    worker_row = lock_worker(conn, worker)
    if worker_row["team"] != team:
        episodes.get_team(conn, team)  # NotFound for an unknown team, before Forbidden
        _own_team(worker_row, team)
    # One statement, after the worker's lock (so with a fresh snapshot), counts the caseload and
    # takes the first claimable episode; SKIP LOCKED passes over a row another claimer holds.
    params = {"team": team, "worker": worker, "default_cap": settings.caseload.default_cap}
    row = conn.execute(NEXT_CLAIM[settings.caseload.crisis_over_cap], params).mappings().first()
    if row is None:
        first = conn.execute(WAITING_IN.limit(1), {"team": team}).scalar_one_or_none()
        if first is not None:
            # Something waits but this worker may not take it: say why rather than "nothing waiting".
            enforce_cap(settings, episodes.load_state(conn, first), worker_row, caseload(conn, worker))
        return None
    state = EpisodeState(**row)
    load = caseload(conn, worker)  # counted after the worker's lock: exact
    return episodes.fire(conn, settings, state.id, "allocate", worker=worker, allocation="self",
                         actor=actor, now=now, loaded=state, worker_row=worker_row,
                         check_allocation=lambda c, st, w: enforce_cap(settings, st, w, load))


# -- claim_next on PostgreSQL, through the driver ----------------------------------------------------

# When the pick finds nothing: the claimer's row with their caseload (parameter: worker; counted
# after the pick locked the row, so exact), and the queue's first waiting episode (parameter: team;
# not locked: another claimer may hold it).
CLAIMER = sa.select(WORKER.c.key, WORKER.c.team, WORKER.c.caseload_cap, HELD.label("load")).where(
    WORKER.c.key == sa.bindparam("worker"))
FIRST_WAITING = QUEUE.limit(1)

# What claim_next_pg returns when it leaves the claim to claim_next (an unknown worker, one of
# another team, a move that was refused): that path says which, or takes the next one.
NOT_HANDLED = "not handled"


@functools.lru_cache(maxsize=4096)
def _claim_hash(worker: str) -> str:
    """The request hash of a claim's allocate (the same for every claim by one worker)."""
    return episodes.fire_hash("allocate", worker=worker)


def claim_next_pg(raw, settings: Settings, team: str, worker: str, *, actor: str, now):
    """claim_next on PostgreSQL in the floor's four round trips, run by psycopg itself.

    ``raw`` is a psycopg connection (not in autocommit) with no transaction open. BEGIN;
    NEXT_CLAIM (the worker's row locked, then the first claimable episode's ``FOR UPDATE SKIP
    LOCKED``); CLAIM_MOVE (the guarded update with the caseload counted afresh, the event and its
    outbox message); COMMIT. The Python between them is the write path's own (episodes.plan, the
    event row, the move's parameters); SQLAlchemy's execution, which was most of a claim's Python
    time, is skipped. Every statement is prepared on its first run (a pooled connection serves
    many claims).

    Returns the allocated episode; None when nothing is claimable (nothing waits, or all that
    waits is being claimed by others); raises CaseloadFull (enforce_cap, the one caseload rule)
    when something waits that this worker may not take. Returns NOT_HANDLED for a worker unknown
    or of another team, or a move that was refused (the caseload counted again; see NEXT_CLAIM):
    the caller then runs claim_next, which raises the error or takes the next episode.
    """
    pick, move, claimer, first_waiting = (driven(s) for s in (NEXT_CLAIM[settings.caseload.crisis_over_cap],
                                                              CLAIM_MOVE, CLAIMER, FIRST_WAITING))
    try:
        with raw.cursor() as cur:  # psycopg sends BEGIN before the first statement
            row = pick.fetch(cur, {"team": team, "worker": worker, "default_cap": settings.caseload.default_cap})
            if row is None:  # nothing written: COMMIT, because a ROLLBACK makes psycopg drop its prepared statements
                found = claimer.fetch(cur, {"worker": worker})
                first = None
                if found is not None and found[1] == team:
                    first = first_waiting.fetch(cur, {"team": team})
                raw.commit()
                if found is None or found[1] != team:
                    return NOT_HANDLED
                if first is not None:  # something waits: is it this worker's cap that stops them?
                    worker_row = {"key": found[0], "team": found[1], "caseload_cap": found[2]}
                    enforce_cap(settings, EpisodeState(*first), worker_row, found[3])
                return None  # nothing waits, or what waits is held by other claimers
            state = EpisodeState(*row)  # claimable: the pick checked the cap, and the move checks it again
            fact, new = episodes.plan(settings, state, "allocate", worker=worker, now=now)
            event = episodes._event_row(state, new, fact, actor, None, "self", None, _claim_hash(worker), now)
            params = episodes.move_params(state, new, event, now)
            params.update(team=team, worker=worker, default_cap=settings.caseload.default_cap,
                          crisis_ok=is_crisis(state) and settings.caseload.crisis_over_cap)
            moved = move.fetch(cur, params) is not None
            raw.commit()
        return new if moved else NOT_HANDLED
    except BaseException:
        raw.rollback()
        raise


def claim(conn: Connection, settings: Settings, episode_id: int, worker: str, *, actor: str,
          now) -> EpisodeState:
    """Allocate that one episode to ``worker``; a second claimer gets Conflict naming who has it."""
    # The worker's row before the episode's, as every allocation does: one lock order, no deadlock.
    worker_row = lock_worker(conn, worker)
    # Wait for (not skip) a claimer holding this episode, then look at what it left behind.
    row = conn.execute(EPISODE_FOR_UPDATE, {"id": episode_id}).mappings().first()
    if row is None:
        raise NotFound(f"no episode {episode_id}", episode_id=episode_id)
    state = EpisodeState(**row)
    _own_team(worker_row, state.team)
    if state.stage in ACTIVE:
        who = "you" if state.worker == worker else state.worker
        raise Conflict(f"episode {episode_id} was already taken by {who} (stage {state.stage})",
                       episode_id=episode_id, worker=state.worker, stage=state.stage)
    load = caseload(conn, worker)
    return episodes.fire(conn, settings, episode_id, "allocate", worker=worker, allocation="self",
                         actor=actor, now=now, loaded=state, worker_row=worker_row,
                         check_allocation=lambda c, st, w: enforce_cap(settings, st, w, load))
