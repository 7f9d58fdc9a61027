"""The duty desk's rules: who is a crisis, the claim order, and the caseload cap every allocation obeys.

Each rule is stated once, here. The store builds its SQL from these same constants (the queue's
ORDER BY, the claim's crisis test), and the board and the services ask these functions.
"""

from __future__ import annotations

import datetime as dt

from pathway.domain.episode import EpisodeState
from pathway.errors import CaseloadFull

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


def cap_of(worker_row: dict, default_cap: int) -> int:
    """A worker's caseload cap: their own, else the configured default."""
    return worker_row["caseload_cap"] or default_cap


def may_take(state: EpisodeState, load: int, cap: int, crisis_over_cap: bool) -> bool:
    """The one caseload rule: a worker at cap takes nothing more, except a crisis when configured."""
    return load < cap or (crisis_over_cap and is_crisis(state.stage, state.priority))


def next_for(queue: list[EpisodeState], load: int, cap: int, crisis_over_cap: bool) -> EpisodeState | None:
    """The one a worker's claim of the next would take from ``queue`` (in claim order), by the caseload rule."""
    return next((s for s in queue if may_take(s, load, cap, crisis_over_cap)), None)


def enforce_cap(state: EpisodeState, worker_row: dict, load: int, *, default_cap: int,
                crisis_over_cap: bool) -> None:
    """:func:`may_take`, or CaseloadFull saying why not."""
    cap = cap_of(worker_row, default_cap)
    if may_take(state, load, cap, crisis_over_cap):
        return
    crisis_note = ("" if crisis_over_cap
                   else "; crisis contacts may not be taken over cap either (caseload.crisis_over_cap is false)")
    raise CaseloadFull(
        f"worker {worker_row['key']!r} has a caseload of {load} and a cap of {cap}: "
        f"close or release an episode before taking episode {state.id}{crisis_note}",
        worker=worker_row["key"], caseload=load, cap=cap, episode_id=state.id)
