"""Conversations held with a person: the ``conversation`` event kind's statuses, modes and checks.

A conversation is ``booked`` (for a time, in a mode), then ``held`` (in a mode, for some minutes),
``cancelled`` or ``not_attended``. It is a row of the event kinds' table (pathway.domain.events.KINDS),
recorded and replayed as every event that keeps the stage is; here are its words and its named checks.
The measures built on it (days to the first conversation held, conversations held by mode) are
counted from the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathway.domain.events import Asked

KIND = "conversation"
STATUSES = ("booked", "held", "cancelled", "not_attended")
MODES = ("phone", "video", "home_visit", "community_venue")
MAX_MINUTES = 24 * 60


def status(a: Asked) -> str | None:
    value = a.data["status"]
    return None if value in STATUSES else f"unknown status {value!r}; statuses are: {', '.join(STATUSES)}"


def mode(a: Asked) -> str | None:
    value = a.data.get("mode")
    if value is None:
        if a.data["status"] in ("booked", "held"):
            return f"a {a.data['status']} conversation needs a mode: {', '.join(MODES)}"
        return None
    return None if value in MODES else f"unknown mode {value!r}; modes are: {', '.join(MODES)}"


def minutes(a: Asked) -> str | None:
    value = a.data.get("minutes")
    if value is None:
        return None
    if a.data["status"] != "held":
        return "minutes are given only for a held conversation"
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MINUTES:
        return f"minutes must be a whole number from 1 to {MAX_MINUTES}, not {value!r}"
    return None


def booked_for(a: Asked) -> str | None:
    """``at``, the time a booked conversation is for (parsed by the services): not before the contact."""
    value = a.data.get("at")
    if value is None:
        return None
    if a.data["status"] != "booked":
        return "at (the time booked for) is given only for a booked conversation"
    if a.contact_at is not None and value < a.contact_at:
        return f"at {value.isoformat()} is before the episode's contact ({a.contact_at.isoformat()})"
    return None
