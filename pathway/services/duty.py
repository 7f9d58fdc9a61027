"""The duty desk's use cases: a team's queue in claim order, self-allocation, and caseloads against caps.

The rules (crisis, claim order, the caseload cap) are the domain's (pathway.domain.duty); how a
claim is made safe under concurrency is the store's (pathway.store.duty).
"""

from __future__ import annotations

import datetime as dt
import functools
import time

from pathway.domain import days
from pathway.domain.checks import unknown_team, unknown_worker
from pathway.domain.commands import Move
from pathway.domain.duty import cap_of, enforce_active, enforce_cap, is_crisis
from pathway.domain.episode import EpisodeState
from pathway.domain.stages import ACTIVE
from pathway.errors import Conflict, Forbidden, NotFound, PathwayError
from pathway.services import episodes
from pathway.services.matching import away_refusal, load_of
from pathway.settings import Settings
from pathway.store.episodes import event_row
from pathway.store.unit import Store, Unit

# A claim whose move was refused (the caseload, counted again, reached the cap meanwhile), or whose
# pick found only episodes other claimers hold, is tried again from the pick (which then sees the new
# caseload, or the others' claims settled): this many times at most, a moment apart.
CLAIM_ATTEMPTS = 4
RETRY_PAUSE = 0.002  # seconds, times the attempt: a claim holds its rows for about a millisecond


def queue(uow: Unit, team: str) -> list[EpisodeState]:
    """Every waiting episode of ``team``, in claim order."""
    episodes.get_team(uow, team)
    return uow.duty.queue(team)


def caseloads(uow: Unit, settings: Settings, team: str | None = None, today: dt.date | None = None) -> list[dict]:
    """Each worker's caseload against their cap, by team then worker, and whether they are away on
    ``today`` (the absence's category and last day)."""
    if team is not None:
        episodes.get_team(uow, team)
    away = uow.workforce.away_today(today) if today is not None else {}
    weighted = settings.workforce.weighting
    out = []
    for row in uow.duty.caseloads(team):
        cap = cap_of(row, settings.caseload.default_cap, weighted)
        load = round(row["weight"], 2) if weighted else row["n"]
        absence = away.get(row["key"], {})
        out.append({"worker": row["key"], "team": row["team"], "caseload": row["n"], "weight": round(row["weight"], 2),
                    "fte": row["fte"], "cap": round(cap, 2) if weighted else cap,
                    "free": round(max(cap - load, 0), 2), "over_cap": load > cap,
                    "away": absence.get("away"), "away_until": absence.get("until")})
    return out


def _own_team(worker_row: dict, team: str) -> None:
    if worker_row["team"] != team:
        raise Forbidden(f"worker {worker_row['key']!r} is in team {worker_row['team']!r} and may claim only "
                        f"from that team's queue, not from team {team!r}'s", worker=worker_row["key"], team=team)


@functools.lru_cache(maxsize=4096)
def _claim_command(worker: str) -> Move:
    """The move every claim by ``worker`` makes (its request hash is the same for each of them)."""
    return Move("allocate", worker=worker)


@functools.lru_cache(maxsize=4096)
def _claim_hash(worker: str) -> str:
    return _claim_command(worker).fingerprint()


def claim_next(store: Store, settings: Settings, team: str, worker: str, *, actor: str,
               now: dt.datetime) -> EpisodeState | None:
    """Allocate the first claimable episode of ``team``'s queue to ``worker``; None if nothing waits.

    A worker at cap may still take a crisis (when configured): the first crisis in the queue.
    CaseloadFull when something waits that this worker may not take."""
    for attempt in range(CLAIM_ATTEMPTS):
        if attempt:
            time.sleep(RETRY_PAUSE * attempt)
        with store.claim_unit() as uow:
            # The unit ends before a refusal is raised: on PostgreSQL a rolled-back claim would make
            # the driver drop its prepared statements.
            taken, refusal = claim_next_in(uow, settings, team, worker, actor, now)
        if refusal is not None:
            if refusal.extra.get("field") == "team":
                with store.unit(write=False) as uow:
                    episodes.get_team(uow, team)  # the same refusal, naming the teams there are
            raise refusal
        if taken is not _REFUSED:
            return taken
    return None


_REFUSED = object()


def claim_next_in(uow, settings: Settings, team: str, worker: str, actor: str,
                  now: dt.datetime) -> tuple[EpisodeState | None | object, PathwayError | None]:
    """One attempt at a claim of the next one, in the caller's unit of work: (the episode taken, or
    None when nothing waits, or _REFUSED to try again; the error to raise once the unit has ended, or None)."""
    cap = settings.caseload
    today = days.london_date(now)
    weighted = settings.workforce.weighting
    state = uow.duty.pick(team, worker, cap.default_cap, cap.crisis_over_cap, today=today,
                          rules=settings.workforce.rules, weighted=weighted)
    if state is None:
        return _nothing_claimable(uow, settings, team, worker, today)
    command = _claim_command(worker)
    fact, new = episodes.plan(settings, state, command, now)
    event = event_row(state, new, fact, actor, None, "self", None, _claim_hash(worker), now)
    crisis_ok = cap.crisis_over_cap and is_crisis(state.stage, state.priority)
    moved = uow.duty.claim_move(state, new, event, now, team=team, worker=worker, default_cap=cap.default_cap,
                                crisis_ok=crisis_ok, weighted=weighted)
    return (new if moved else _REFUSED), None


def _nothing_claimable(uow, settings: Settings, team: str, worker: str,
                       today: dt.date) -> tuple[object, PathwayError | None]:
    """Why the pick found nothing: an error to raise (an unknown worker or team, a worker of another
    team, a worker away, a worker at cap), _REFUSED when what waits is held by other claimers just now,
    or None when nothing waits that this worker is skilled for."""
    claimer = uow.duty.claimer(worker, today)
    if claimer is None:
        return None, NotFound(unknown_worker(worker), field="worker")
    if claimer["team"] != team:
        if not uow.duty.team_known(team):
            return None, NotFound(unknown_team(team, ()), field="team")
        try:
            _own_team(claimer, team)
        except Forbidden as exc:
            return None, exc
    if claimer["away"]:
        return None, away_refusal(worker)
    first = uow.duty.first_waiting(team, worker, settings.workforce.rules)
    if first is None:
        return None, None
    try:  # something waits: is it this worker's state or cap that stops them?
        enforce_active(claimer)
        weighted = settings.workforce.weighting
        enforce_cap(first, claimer, claimer["weighted_load" if weighted else "load"],
                    default_cap=settings.caseload.default_cap, crisis_over_cap=settings.caseload.crisis_over_cap,
                    weighted=weighted)
    except PathwayError as exc:
        return None, exc
    return _REFUSED, None


def claim(uow: Unit, settings: Settings, episode_id: int, worker: str, *, actor: str,
          now: dt.datetime) -> EpisodeState:
    """Allocate that one episode to ``worker``; a second claimer gets Conflict naming who has it."""
    # The worker's row before the episode's, as every allocation does: one lock order, no deadlock.
    worker_row = uow.episodes.allocatee(worker, days.london_date(now))
    if worker_row is None:
        raise NotFound(unknown_worker(worker), field="worker")
    # Wait for (not skip) a claimer holding this episode, then look at what it left behind.
    state = uow.duty.episode_for_update(episode_id)
    if state is None:
        raise NotFound(f"no episode {episode_id}", episode_id=episode_id)
    _own_team(worker_row, state.team)
    if state.stage in ACTIVE:
        who = "you" if state.worker == worker else state.worker
        raise Conflict(f"episode {episode_id} was already taken by {who} (stage {state.stage})",
                       episode_id=episode_id, worker=state.worker, stage=state.stage)
    return episodes.move(uow, settings, episode_id, _claim_command(worker), actor=actor,
                         now=now, allocation="self", loaded=state, worker_row=worker_row,
                         load=load_of(uow, settings, worker))
