"""The duty desk's rules: who is a crisis, the claim order, and the caseload cap every allocation obeys.

Each rule is stated once, here. The store builds its SQL from these same constants (the queue's
ORDER BY, the claim's crisis test), and the board and the services ask these functions.
"""

from __future__ import annotations

import datetime as dt

from pathway.domain.episode import EpisodeState
from pathway.errors import CaseloadFull, Conflict

# A person in crisis jumps every queue: an episode in conversation 2's queue, or a contact
# recorded with priority "crisis" that still waits in another conversation's queue.
CRISIS_STAGE = "c2_waiting"
CRISIS_PRIORITY = "crisis"
# Claim order: crisis first (rank 0); then priority high > normal > low; then longest waiting
# (wait_from: the contact time for conversation 1, the time the c2/c3 queue was entered for the
# others; a release does not reset it); then id, so the order is total and the same on every
# database. Among crises only the wait counts.
CRISIS_RANK = 0
PRIORITY_RANK = {"high": 1, "normal": 2, "low": 3}
OTHER_RANK = 3


def is_crisis(stage: str, priority: str) -> bool:
    return stage == CRISIS_STAGE or priority == CRISIS_PRIORITY


def rank(stage: str, priority: str) -> int:
    return CRISIS_RANK if is_crisis(stage, priority) else PRIORITY_RANK.get(priority, OTHER_RANK)


def claim_key(state: EpisodeState) -> tuple[int, dt.datetime | None, int | None]:
    """Where an episode stands in its team's queue: the lower the sooner it is taken."""
    return rank(state.stage, state.priority), state.wait_from, state.id


def front_door_key(state: EpisodeState) -> tuple[int, dt.datetime, int | None]:
    """Where a contact stands at its team's front door: crises first, then in order of arrival."""
    return (CRISIS_RANK if state.priority == CRISIS_PRIORITY else 1), state.contact_at, state.id


def cap_of(worker_row: dict, default_cap: int, weighted: bool = False) -> float:
    """A worker's caseload cap: their own, else the configured default; with weighting, times their FTE."""
    cap = worker_row["caseload_cap"] or default_cap
    return cap * (worker_row.get("fte") or 1.0) if weighted else cap


def may_take(state: EpisodeState, load: float, cap: float, crisis_over_cap: bool) -> bool:
    """The one caseload rule: a worker at cap takes nothing more, except a crisis when configured."""
    return load < cap or (crisis_over_cap and is_crisis(state.stage, state.priority))


def next_for(queue: list[EpisodeState], load: float, cap: float, crisis_over_cap: bool) -> EpisodeState | None:
    """The one a worker's claim of the next would take from ``queue`` (in claim order), by the caseload rule."""
    return next((s for s in queue if may_take(s, load, cap, crisis_over_cap)), None)


def enforce_cap(state: EpisodeState, worker_row: dict, load: float, *, default_cap: int,
                crisis_over_cap: bool, weighted: bool = False, weight: float | None = None) -> None:
    """:func:`may_take`, or CaseloadFull saying why not. With weighting (``weighted``) the load is the sum
    of their active episodes' weights and the cap is scaled by their FTE; otherwise the load is the number
    of active episodes.

    ``weight``: what a manager's allocation weighs the episode at (weighting only; None is an ordinary
    case). A worker at cap takes nothing more whatever it weighs, and an episode heavier than an ordinary
    one needs room for its extra weight too: their load plus ``weight - 1`` must be under the cap. An
    ordinary case, or any allocation without weighting, is :func:`may_take` exactly."""
    cap = cap_of(worker_row, default_cap, weighted)
    extra = max(weight - 1.0, 0.0) if weighted and weight is not None else 0
    if may_take(state, load + extra, cap, crisis_over_cap):
        return
    crisis_note = ("" if crisis_over_cap
                   else "; crisis contacts may not be taken over cap either (caseload.crisis_over_cap is false)")
    what = (f"a weighted caseload of {load:g} and a cap of {cap:g} (FTE {worker_row.get('fte') or 1.0:g})"
            if weighted else f"a caseload of {load} and a cap of {cap}")
    if extra:
        what += f", no room for episode {state.id} at weight {weight:g} (it would take them to {load + weight:g})"
        advice = "give it a lower weight, or close or release an episode first"
    else:
        advice = f"close or release an episode before taking episode {state.id}"
    raise CaseloadFull(f"worker {worker_row['key']!r} has {what}: {advice}{crisis_note}",
                       worker=worker_row["key"], caseload=load, cap=cap, episode_id=state.id)


def enforce_active(worker_row: dict) -> None:
    """An inactive worker (away, left) keeps their record and caseload but takes no allocation."""
    if not worker_row.get("active", True):
        raise Conflict(f"worker {worker_row['key']!r} is inactive and takes no allocation; "
                       f"pathway staff update {worker_row['key']} --active makes them active again",
                       worker=worker_row["key"])
