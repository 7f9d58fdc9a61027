"""The checks every write makes of its input, stated once: keys, people's references, priorities and times."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from pathway.domain import days
from pathway.domain.vocabulary import PRIORITIES
from pathway.errors import ValidationError

# A reference from the back end's system, never a name: letters, digits and . _ : / - only.
REF_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Clocks differ a little between a back end and the engine; more than this ahead is a mistake.
FUTURE_SLACK = dt.timedelta(minutes=5)
NOTE_LENGTH = 4000


def request_hash(body: dict) -> str:
    """A fingerprint of a request, to tell a retry (same body) from a reused key (another body)."""
    text = json.dumps(body, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def check_key(value: str, what: str) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        raise ValidationError(
            f"{what} key {value!r} must be 1-64 characters of lower-case letters, digits, '_' or '-'",
            field="key",
        )
    return value


def check_name(value: str | None, what: str) -> str:
    if not value or not value.strip():
        raise ValidationError(f"a {what} needs a name", field="name")
    return value.strip()


def check_person_ref(value: str) -> str:
    if not isinstance(value, str) or not REF_PATTERN.match(value):
        raise ValidationError(
            f"person_ref {value!r} must be the back end's reference for the person (1-64 characters: "
            "letters, digits and . _ : / -), never a name or address",
            field="person_ref",
        )
    return value


def check_external_ref(value: str) -> str:
    if not isinstance(value, str) or not REF_PATTERN.match(value):
        raise ValidationError(
            f"external_ref {value!r} must be the back end's own case id (1-64 characters: letters, digits "
            "and . _ : / -)", field="external_ref")
    return value


def check_priority(value: str) -> str:
    if value not in PRIORITIES:
        raise ValidationError(f"unknown priority {value!r}; priorities are: {', '.join(PRIORITIES)}",
                              field="priority")
    return value


def check_route(value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 64):
        raise ValidationError("route must be a short code (1-64 characters)", field="route")
    return value


def check_note(value: str | None) -> str | None:
    if value is not None and len(value) > NOTE_LENGTH:
        raise ValidationError(f"note is longer than {NOTE_LENGTH} characters", field="note")
    return value


def check_caseload_cap(value) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValidationError(f"caseload_cap must be a whole number of at least 1, not {value!r}",
                              field="caseload_cap")
    return value


def event_time(value, now: dt.datetime, field: str = "occurred_at") -> dt.datetime:
    """When an event happened: ``value`` (ISO 8601; a bare date is midnight Europe/London) or now;
    never more than FUTURE_SLACK ahead of the engine's clock."""
    at = days.parse_time(value, field) if value is not None else now
    if at > now + FUTURE_SLACK:
        raise ValidationError(f"{field} {at.isoformat()} is in the future (now is {now.isoformat()})",
                              field=field)
    return at


def unknown_team(key: str, teams) -> str:
    """The one wording for a team that does not exist, on every interface (and in the import)."""
    return f"unknown team {key!r}; teams are: {', '.join(sorted(teams)) or 'none yet (pathway team add)'}"


def unknown_worker(key: str) -> str:
    """The one wording for a worker that does not exist."""
    return f"unknown worker {key!r}; pathway staff list shows the workers (pathway staff add makes one)"
