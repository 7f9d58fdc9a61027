"""Conversations held with a person: the ``conversation`` event kind, which keeps the episode's stage.

A conversation is ``booked`` (for a time, in a mode), then ``held`` (in a mode, for some minutes),
``cancelled`` or ``not_attended``. It is an event of the episode's log like any other, so the
measures built on it (days to the first conversation held, conversations held by mode) are
counted from the log. The rules are stated here once; the service writes the event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from pathway.domain import days
from pathway.domain.checks import check_note, event_time
from pathway.domain.episode import EpisodeState
from pathway.errors import ValidationError

KIND = "conversation"
STATUSES = ("booked", "held", "cancelled", "not_attended")
MODES = ("phone", "video", "home_visit", "community_venue")
MAX_MINUTES = 24 * 60


@dataclasses.dataclass(frozen=True)
class Conversation:
    """What a back end or a worker records about one conversation."""

    status: str
    mode: str | None = None
    at: str | dt.datetime | None = None  # booked: when it is booked for
    minutes: int | None = None  # held: how long it took
    occurred_at: str | dt.datetime | None = None  # when this was recorded as happening (default now)
    note: str | None = None


def check(conv: Conversation, state: EpisodeState, now: dt.datetime) -> tuple[dt.datetime, dict]:
    """When the event happened and its data, or a ValidationError naming what is wrong and what is allowed."""
    if conv.status not in STATUSES:
        raise ValidationError(f"unknown conversation status {conv.status!r}; statuses are: {', '.join(STATUSES)}",
                              field="status")
    if conv.mode is not None and conv.mode not in MODES:
        raise ValidationError(f"unknown conversation mode {conv.mode!r}; modes are: {', '.join(MODES)}",
                              field="mode")
    if conv.status in ("booked", "held") and conv.mode is None:
        raise ValidationError(f"a {conv.status} conversation needs a mode: {', '.join(MODES)}", field="mode")
    if conv.minutes is not None:
        if conv.status != "held":
            raise ValidationError("minutes are given only for a held conversation", field="minutes")
        if isinstance(conv.minutes, bool) or not isinstance(conv.minutes, int) or not 1 <= conv.minutes <= MAX_MINUTES:
            raise ValidationError(f"minutes must be a whole number from 1 to {MAX_MINUTES}, not {conv.minutes!r}",
                                  field="minutes")
    if conv.at is not None and conv.status != "booked":
        raise ValidationError("at (the time booked for) is given only for a booked conversation", field="at")
    check_note(conv.note)
    occurred = event_time(conv.occurred_at, now)
    if state.stage == "closed":
        raise ValidationError(f"episode {state.id} is closed; conversations are recorded while it is open",
                              field="episode_id")
    if occurred < state.contact_at:
        raise ValidationError(f"occurred_at {occurred.isoformat()} is before the episode's contact "
                              f"({state.contact_at.isoformat()})", field="occurred_at")
    if occurred < state.stage_at:
        raise ValidationError(f"occurred_at {occurred.isoformat()} is before the episode entered its stage "
                              f"{state.stage} ({state.stage_at.isoformat()}); a conversation is recorded in the "
                              "stage it was held in, in order", field="occurred_at")
    data: dict = {"status": conv.status}
    if conv.mode is not None:
        data["mode"] = conv.mode
    if conv.minutes is not None:
        data["minutes"] = conv.minutes
    if conv.at is not None:
        booked_for = days.parse_time(conv.at, "at")
        if booked_for < state.contact_at:
            raise ValidationError(f"at {booked_for.isoformat()} is before the episode's contact", field="at")
        data["at"] = booked_for.isoformat()
    return occurred, data
