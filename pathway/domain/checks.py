"""The checks every write makes of its input, stated once: keys, people's references, priorities and times."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re

from pathway.domain import days
from pathway.domain.vocabulary import PRIORITIES
from pathway.errors import ValidationError

# A reference from the back end's system, never a name: letters, digits and . _ : / - only. (Which of
# those a council's references may hold is its person-reference policy: RefPolicy.)
REF_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
# An NHS number as people write it: ten digits, maybe grouped 3-3-4 by spaces or dashes, maybe after
# a prefix such as "NHS:" or "nhs-".
NHS_SHAPE = re.compile(r"^(?:[A-Za-z]{1,8}[-:/._ ]?)?([0-9]{3})[-. /]?([0-9]{3})[-. /]?([0-9]{4})$")
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Clocks differ a little between a back end and the engine; more than this ahead is a mistake.
FUTURE_SLACK = dt.timedelta(minutes=5)
NOTE_LENGTH = 4000


def request_hash(body: dict) -> str:
    """A fingerprint of a request, to tell a retry (same body) from a reused key (another body)."""
    text = json.dumps(body, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def scoped_key(actor: str, key: str | None) -> str | None:
    """An idempotency key as the engine stores it: one caller's key, never matched by another caller's
    same key (a digest of the two, so any key of 1-200 characters fits the column)."""
    if key is None:
        return None
    return "k:" + hashlib.sha256(f"{actor}\x00{key}".encode()).hexdigest()


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


def is_nhs_number(value: str) -> bool:
    """Whether ``value`` is an NHS number (ten digits whose last is the modulus 11 check digit of the
    first nine), written with or without separators or a prefix."""
    found = NHS_SHAPE.match(value.strip())
    if found is None:
        return False
    digits = [int(c) for c in "".join(found.groups())]
    check = 11 - sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    return (0 if check == 11 else check) == digits[9]  # a remainder giving 10 is never issued


@dataclasses.dataclass(frozen=True)
class RefPolicy:
    """A council's person-reference policy: the pattern its references match (``pattern``), and whether
    they may be NHS numbers (``nhs_numbers``)."""

    pattern: str
    nhs_numbers: bool = False

    @property
    def compiled(self) -> re.Pattern:
        return re.compile(self.pattern)  # re keeps the patterns it compiled: once per pattern

    def problem(self, value) -> str | None:
        """Why ``value`` is not a person reference under this policy, or None if it is one."""
        if not isinstance(value, str) or not REF_PATTERN.match(value):
            return (f"person_ref {value!r} must be the back end's reference for the person (1-64 characters: "
                    "letters, digits and . _ : / -), never a name or address")
        if not self.nhs_numbers and is_nhs_number(value):
            return (f"person_ref {value!r} has the shape of an NHS number; send the case record system's own "
                    "reference (a council that uses NHS numbers as references sets security.nhs_numbers)")
        if not self.compiled.match(value):
            return (f"person_ref {value!r} does not match the council's reference pattern {self.pattern!r} "
                    "(the case record system's reference for the person, never a name or a date of birth)")
        return None


def check_person_ref(value: str, policy: RefPolicy) -> str:
    problem = policy.problem(value)
    if problem is not None:
        raise ValidationError(problem, field="person_ref")
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


@dataclasses.dataclass(frozen=True)
class Horizon:
    """The times an event may have: not before ``earliest`` (a London date), not more than ``slack``
    ahead of the engine's clock."""

    earliest: dt.date
    slack: dt.timedelta = FUTURE_SLACK

    def problem(self, at: dt.datetime, now: dt.datetime, field: str) -> str | None:
        """Why ``at`` is outside the horizon, or None."""
        if at < dt.datetime.combine(self.earliest, dt.time(), tzinfo=days.LONDON):
            return (f"{field} {at.isoformat()} is before {self.earliest.isoformat()}, the earliest date "
                    "the engine takes (security.earliest_date)")
        if at > now + self.slack:
            return f"{field} {at.isoformat()} is in the future (now is {now.isoformat()})"
        return None

    def check_day(self, day: dt.date, field: str, latest: dt.date) -> dt.date:
        """A report's date: from ``earliest`` to ``latest``."""
        if not self.earliest <= day <= latest:
            raise ValidationError(f"{field} {day.isoformat()} is outside the dates reports cover "
                                  f"({self.earliest.isoformat()} to {latest.isoformat()})", field=field)
        return day


def event_time(value, now: dt.datetime, horizon: Horizon, field: str = "occurred_at") -> dt.datetime:
    """When an event happened: ``value`` (ISO 8601; a bare date is midnight Europe/London) or now;
    within the ``horizon``."""
    at = days.parse_time(value, field) if value is not None else now
    problem = horizon.problem(at, now, field)
    if problem is not None:
        raise ValidationError(problem, field=field)
    return at


def unknown_team(key: str, teams) -> str:
    """The one wording for a team that does not exist, on every interface (and in the import)."""
    return f"unknown team {key!r}; teams are: {', '.join(sorted(teams)) or 'none yet (pathway team add)'}"


def unknown_worker(key: str) -> str:
    """The one wording for a worker that does not exist."""
    return f"unknown worker {key!r}; pathway staff list shows the workers (pathway staff add makes one)"
