"""The duty desk: team queues in claim order, self-allocation, and the caseload caps every allocation obeys.

Each function takes an open connection inside the Engine's unit of work. Claim order is
defined once, in :data:`CLAIM_ORDER`, and used by both the queue listing and the claims.

Concurrency. On PostgreSQL a claim first locks the claiming worker's row (``FOR UPDATE``),
so two claims by the same worker cannot both pass the cap check, then takes the first
waiting episode with ``FOR UPDATE SKIP LOCKED``, so claimers never wait on each other's
candidate. Every allocation locks the worker before the episode, so locks are always taken
in one order and cannot deadlock. On SQLite a writing unit of work starts with
``BEGIN IMMEDIATE`` (writers take turns) and ``services.fire`` updates the episode only
while its version is unchanged, so a claim never lands on a row someone else moved.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway import services
from pathway.episode import EpisodeState
from pathway.errors import CaseloadFull, Conflict, Forbidden
from pathway.services import EPISODE, STATE_FIELDS, WORKER
from pathway.settings import Settings
from pathway.stages import ACTIVE, WAITING

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


def waiting_in(team: str) -> sa.Select:
    """The ids of the team's waiting episodes, in claim order."""
    return (sa.select(EPISODE.c.id)
            .where(EPISODE.c.team == team, EPISODE.c.stage.in_(WAITING))
            .order_by(*CLAIM_ORDER))


def queue(conn: Connection, team: str) -> list[EpisodeState]:
    """Every waiting episode of ``team``, in claim order."""
    services.get_team(conn, team)
    cols = [EPISODE.c[name] for name in STATE_FIELDS]
    q = waiting_in(team).with_only_columns(*cols)
    return [EpisodeState(**row) for row in conn.execute(q).mappings()]


# -- caseloads -----------------------------------------------------------------------------------

def cap_of(settings: Settings, worker_row: dict) -> int:
    return worker_row["caseload_cap"] or settings.caseload.default_cap


def caseload(conn: Connection, worker: str) -> int:
    """Episodes the worker holds now: every ``*_active`` episode allocated to them."""
    q = sa.select(sa.func.count()).select_from(EPISODE).where(EPISODE.c.worker == worker,
                                                                EPISODE.c.stage.in_(ACTIVE))
    return conn.execute(q).scalar_one()


def lock_worker(conn: Connection, worker: str) -> int:
    """Hold the worker's row until the transaction ends and return their caseload.

    While the row is held no other allocation to this worker can be checked, so the count
    cannot be overtaken before this transaction commits. (SQLite has no FOR UPDATE; its
    writers are serialised by BEGIN IMMEDIATE already.)
    """
    conn.execute(sa.select(WORKER.c.key).where(WORKER.c.key == worker).with_for_update())
    return caseload(conn, worker)


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
    """The ``check_allocation`` hook services.fire runs for every allocate (claims and managers alike)."""
    def check(conn: Connection, state: EpisodeState, worker_row: dict) -> None:
        enforce_cap(settings, state, worker_row, lock_worker(conn, worker_row["key"]))
    return check


def caseloads(conn: Connection, settings: Settings, team: str | None = None) -> list[dict]:
    """Each worker's caseload against their cap, by team then worker."""
    if team is not None:
        services.get_team(conn, team)
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


def claim_next(conn: Connection, settings: Settings, team: str, worker: str, *, actor: str,
               now) -> EpisodeState | None:
    """Allocate the first claimable episode of ``team``'s queue to ``worker``; None if nothing waits.

    A worker at cap may still take a crisis (when configured): the first crisis in the queue.
    """
    services.get_team(conn, team)
    worker_row = services.get_worker(conn, worker)
    _own_team(worker_row, team)
    load = lock_worker(conn, worker)
    candidates = waiting_in(team)
    at_cap = load >= cap_of(settings, worker_row)
    if at_cap:
        if not settings.caseload.crisis_over_cap:
            candidates = candidates.where(sa.false())
        else:
            candidates = candidates.where(IS_CRISIS)
    # SKIP LOCKED: a row another claimer holds is passed over, never waited for.
    episode_id = conn.execute(
        candidates.limit(1).with_for_update(skip_locked=True, of=EPISODE)).scalar_one_or_none()
    if episode_id is None:
        first = conn.execute(waiting_in(team).limit(1)).scalar_one_or_none() if at_cap else None
        if first is not None:
            # Something waits, but not for a worker at cap: say so rather than "nothing waiting".
            enforce_cap(settings, services.load_state(conn, first), worker_row, load)
        return None
    return services.fire(conn, settings, episode_id, "allocate", worker=worker, allocation="self",
                         actor=actor, now=now,
                         check_allocation=lambda c, state, row: enforce_cap(settings, state, row, load))


def claim(conn: Connection, settings: Settings, episode_id: int, worker: str, *, actor: str,
          now) -> EpisodeState:
    """Allocate that one episode to ``worker``; a second claimer gets Conflict naming who has it."""
    worker_row = services.get_worker(conn, worker)
    # The worker's row before the episode's, as every allocation does: one lock order, no deadlock.
    load = lock_worker(conn, worker)
    # Wait for (not skip) a claimer holding this episode, then look at what it left behind.
    conn.execute(sa.select(EPISODE.c.id).where(EPISODE.c.id == episode_id).with_for_update())
    state = services.load_state(conn, episode_id)  # NotFound for an unknown episode
    _own_team(worker_row, state.team)
    if state.stage in ACTIVE:
        who = "you" if state.worker == worker else state.worker
        raise Conflict(f"episode {episode_id} was already taken by {who} (stage {state.stage})",
                       episode_id=episode_id, worker=state.worker, stage=state.stage)
    return services.fire(conn, settings, episode_id, "allocate", worker=worker, allocation="self",
                         actor=actor, now=now,
                         check_allocation=lambda c, st, row: enforce_cap(settings, st, row, load))
