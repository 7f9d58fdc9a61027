"""Reading episodes for the people who work them and the systems that embed the engine: a team's front
door, a worker's tray, and the listing of episodes with its filters and cursor.

Days here are whole days on London dates, counted in the configured day mode as everywhere (an episode's days
waiting in its stage's own mode: the front door's in working days by default).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from pydantic import BaseModel

from pathway.domain import days
from pathway.domain.episode import EpisodeState
from pathway.domain.events import Progress
from pathway.domain.stages import ACTIVE, STAGES
from pathway.errors import ValidationError
from pathway.services import episodes
from pathway.services.waits import latest_start
from pathway.settings import Settings
from pathway.store.progression import Listing
from pathway.store.unit import Unit

FRONT_DOOR_LIMIT = 500  # a front door holds tens of contacts; more is a backlog to report, not to list
LIST_LIMIT = 50
MAX_LIST_LIMIT = 500


class Casework(BaseModel):
    """What a worker and a manager see of an episode besides its row: its last event, the open next action,
    the flag and the last discussion."""

    last_event: str
    last_event_at: dt.datetime
    days_since_last_event: int
    next_action: str | None
    next_action_due: dt.date | None
    next_action_overdue: bool
    flagged: bool
    flag_reason: str | None
    flagged_at: dt.datetime | None
    discussed_at: dt.datetime | None
    days_since_discussed: int | None
    days_since_allocation: int | None


def casework(state: EpisodeState, last: dict, progress: Progress, settings: Settings, now: dt.datetime) -> dict:
    """The Casework fields of one episode (values of a trusted row: no validation to pay for)."""
    today = days.london_date(now)
    mode = settings.day_mode

    def since(at: dt.datetime | None) -> int | None:
        return None if at is None else days.days_from(at, now, mode)

    return dict(
        last_event=last["trigger"], last_event_at=last["occurred_at"], days_since_last_event=since(last["occurred_at"]),
        next_action=progress.next_action, next_action_due=progress.next_action_due,
        next_action_overdue=progress.next_action_due is not None and progress.next_action_due < today,
        flagged=progress.flagged, flag_reason=progress.flag_reason, flagged_at=progress.flagged_at,
        discussed_at=progress.discussed_at, days_since_discussed=since(progress.discussed_at),
        days_since_allocation=since(state.allocated_at) if state.worker else None)


def front_door(uow: Unit, team: str) -> list[EpisodeState]:
    """The team's contacts waiting for a decision: crises first, then in order of arrival."""
    found = uow.progression.front_door(team, FRONT_DOOR_LIMIT)
    if not found:  # nobody, or no such team: only then is it worth asking which
        episodes.get_team(uow, team)
    return found


def tray(uow: Unit, worker: str) -> list[tuple[EpisodeState, dict, Progress]]:
    """The worker's active episodes, oldest allocation first, each with its last event and Progress."""
    found = uow.progression.tray(worker)
    if not found:  # none, or no such worker: only then is it worth asking which
        episodes.get_worker(uow, worker)
    return found


PANEL = 15  # people listed in each of the board's casework panels


def for_discussion(uow: Unit, team: str, limit: int = PANEL) -> list[tuple[EpisodeState, dict, Progress]]:
    """The team's flagged episodes, the oldest flag first: what the huddle is to discuss."""
    return uow.progression.for_discussion(team, limit)


def standing_still(uow: Unit, settings: Settings, team: str, today: dt.date,
                   limit: int = PANEL) -> list[tuple[EpisodeState, dict, Progress]]:
    """The team's active episodes with no event for more than their stage's stale days, or an overdue next
    action, the longest still first."""
    cutoffs = tuple((stage, latest_start(today, settings.progression.stale(stage), settings.day_mode))
                    for stage in ACTIVE)
    return uow.progression.standing_still(team, cutoffs, today, limit)


def check_listing(settings: Settings, now: dt.datetime, *, team=None, worker=None, stage=None, client_group=None,
                  flagged=None, stale_days=None, person_ref=None, external_ref=None, cursor=None,
                  limit=None) -> Listing:
    """A listing's filters checked (a bad one is a ValidationError saying what is allowed)."""
    if stage is not None and stage not in STAGES:
        raise ValidationError(f"unknown stage {stage!r}; stages are: {', '.join(STAGES)}", field="stage")
    if client_group is not None:
        settings.check_client_group(client_group)
    stale_before = None
    if stale_days is not None:
        if not isinstance(stale_days, int) or isinstance(stale_days, bool) or stale_days < 0:
            raise ValidationError(f"stale_days is a whole number of days, 0 or more, not {stale_days!r}",
                                  field="stale_days")
        stale_before = days.london_date(now) - dt.timedelta(days=stale_days)
    limit = LIST_LIMIT if limit is None else limit
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValidationError(f"limit is from 1 to {MAX_LIST_LIMIT}, not {limit!r}", field="limit")
    return Listing(team=team, worker=worker, stage=stage, client_group=client_group, flagged=flagged,
                   stale_before=stale_before, person_ref=person_ref, external_ref=external_ref,
                   after=decode_cursor(cursor), limit=limit)


def encode_cursor(episode_id: int) -> str:
    return f"e{episode_id}"


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not (isinstance(cursor, str) and cursor[:1] == "e" and cursor[1:].isdigit() and len(cursor) <= 12):
        raise ValidationError(f"cursor {cursor!r} is not one this listing gave (use next_cursor as it came)",
                              field="cursor")
    return int(cursor[1:])


def listing(uow: Unit, ask: Listing) -> tuple[list[tuple[EpisodeState, dict, Progress]], str | None]:
    """A page of episodes by id, and the cursor of the next page (None on the last)."""
    rows = uow.progression.listing(dataclasses.replace(ask, limit=ask.limit + 1))  # one more: is there a next page?
    rows, more = rows[:ask.limit], len(rows) > ask.limit
    return rows, (encode_cursor(rows[-1][0].id) if more else None)
