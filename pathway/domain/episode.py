"""The episode as a pure fold over its events: no I/O, the one place the projection's rules live.

Both the write path (``fire``) and ``replay`` call :func:`apply`, so the stored episode row
and a rebuild from the log cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pathway.domain import days, events
from pathway.domain.stages import CLOCKED, Probe, conversation, next_stage


@dataclass(frozen=True)
class Fact:
    """One event as the fold needs it."""

    trigger: str
    occurred_at: dt.datetime
    worker: str | None = None
    outcome: str | None = None
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EpisodeState:
    id: int | None
    person_ref: str
    client_group: str
    team: str
    priority: str
    route: str | None
    stage: str
    worker: str | None
    contact_at: dt.datetime
    stage_at: dt.datetime
    wait_from: dt.datetime | None
    allocated_at: dt.datetime | None
    outcome: str | None
    closed_at: dt.datetime | None
    version: int
    external_ref: str | None = None  # the back end's own case id, if it gave one

    def days_waiting(self, as_at: dt.datetime, modes: days.DayModes = days.DayModes()) -> int | None:
        """Whole days the person has waited at the front door or in the current conversation's queue, if so,
        counted in the mode of the stage."""
        if self.stage not in CLOCKED or self.wait_from is None:
            return None
        return days.days_from(self.wait_from, as_at, modes.of(self.stage))

    def days_to_allocation(self, modes: days.DayModes = days.DayModes()) -> int | None:
        """Days from the current conversation's wait start to its first allocation, once allocated, counted
        in the mode of that conversation's queue (once closed, the conversation is no longer known here: the
        council's own mode)."""
        if self.allocated_at is None or self.wait_from is None:
            return None
        conv = conversation(self.stage)
        return days.days_from(self.wait_from, self.allocated_at, modes.of(f"{conv}_waiting" if conv else self.stage))


def start(episode_id: int | None, fact: Fact) -> EpisodeState:
    """The episode a ``record_contact`` event creates."""
    d = fact.data
    return EpisodeState(
        id=episode_id, person_ref=d["person_ref"], client_group=d["client_group"], team=d["team"],
        priority=d.get("priority", "normal"), route=d.get("route"), stage="contact", worker=None,
        # The front door's clock runs from the contact to its decision (resolve, refer or crisis).
        contact_at=fact.occurred_at, stage_at=fact.occurred_at, wait_from=fact.occurred_at, allocated_at=None,
        outcome=None, closed_at=None, version=1, external_ref=d.get("external_ref"),
    )


def move_for(state: EpisodeState, fact: Fact) -> Probe:
    return Probe(stage=state.stage, outcome=fact.outcome, worker=fact.worker,
                keep_worker=bool(fact.data.get("keep_worker")), to=fact.data.get("to"))


def apply(state: EpisodeState, fact: Fact) -> EpisodeState:
    """The episode after ``fact``; raises a PathwayError if the pathway does not allow the move."""
    kind = events.KINDS.get(fact.trigger)
    if kind is not None:  # an event that keeps the stage (pathway.domain.events), checked by the services
        after = object.__new__(EpisodeState)
        after.__dict__.update(state.__dict__, version=state.version + 1, **events.changes(kind, fact.data))
        return after
    dest = next_stage(move_for(state, fact), fact.trigger)
    at = fact.occurred_at
    change: dict = {"stage": dest, "stage_at": at, "version": state.version + 1}
    t = fact.trigger
    if t == "refer":
        # Conversation 1's clock runs from the contact itself.
        change.update(wait_from=state.contact_at, allocated_at=None)
    elif t == "allocate":
        change.update(worker=fact.worker, allocated_at=state.allocated_at or at)
    elif t == "release":
        # The clock does not restart: wait_from and the first allocation stand.
        change.update(worker=None)
    elif dest.endswith("_waiting"):  # crisis, plan, stabilise to c3: a new queue, a new clock
        change.update(worker=None, wait_from=at, allocated_at=None)
    elif t in ("crisis", "stabilise"):  # the allocated worker keeps the person: no wait at all
        change.update(wait_from=at, allocated_at=at)
    elif dest == "closed":
        change.update(worker=None, outcome=fact.outcome, closed_at=at)
    # dataclasses.replace without __init__ (a frozen dataclass's sets each of its fields through
    # object.__setattr__, and every field here is a plain one): the fold runs once per event of a
    # bulk import, twice over.
    after = object.__new__(EpisodeState)
    after.__dict__.update(state.__dict__, **change)
    return after


def fold(episode_id: int | None, facts: list[Fact]) -> EpisodeState:
    """Replay: the episode rebuilt from its whole log."""
    state = start(episode_id, facts[0])
    for fact in facts[1:]:
        state = apply(state, fact)
    return state
