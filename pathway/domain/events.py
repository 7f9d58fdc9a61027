"""Event kinds that keep the stage: a note, a flag for the huddle, a discussion, a next action, a new
priority, client group or team, a conversation with the person, a welfare check. Each is one row of
:data:`KINDS`, beside the pathway table.

A kind is declared once, as data: the move fields it takes (required and optional), the stages it
may be recorded from, whether a closed episode takes it, the episode fields it changes, and the
named checks it makes (:data:`RULES`). The fold (:func:`apply`), the services' checks, the
interfaces' validation and the reference page all read the table, so a new kind is one row here,
its fields on :class:`pathway.domain.commands.Move`, and its checks in :data:`RULES`.

Besides the episode row, the casework kinds keep a small projection of their own, :class:`Progress`
(the open flag, the open next action, the last discussion and the last such event): replaying the
episode's events rebuilds it exactly, as it rebuilds the episode. Conversations and welfare checks
leave it as it is (``progress=False``): they may be recorded in any order within the stage.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from pathway.domain import conversations
from pathway.domain.scrutiny import OUTREACH_OUTCOMES, WELFARE_CHECK, outreach_outcome_problem
from pathway.domain.stages import OPEN, WAITING
from pathway.domain.vocabulary import PRIORITIES
from pathway.errors import InvalidTransition, ValidationError

# Where an episode may be discussed: the team's huddle, or the worker's weekly case progression meeting.
WHERE = ("huddle", "progression")


@dataclass(frozen=True)
class Kind:
    """One event kind that keeps the stage."""

    name: str
    doc: str
    required: tuple[str, ...] = ()  # Move fields it must be given
    optional: tuple[str, ...] = ()  # Move fields it may be given (``note`` is open to every kind)
    on_closed: bool = False  # a closed episode takes it too
    from_stages: tuple[str, ...] = OPEN  # the stages it may be recorded from (closed: see on_closed)
    sets: tuple[str, ...] = ()  # episode fields it changes, each from the Move field of the same name
    rules: tuple[str, ...] = ()  # named checks (RULES) on the episode, its Progress and the fields
    progress: bool = True  # it moves the episode's Progress on (and may not be back-dated before its last_at)
    records: tuple[tuple[str, str], ...] = ()  # data every event of the kind recorded on its own carries

    def stages(self) -> tuple[str, ...]:
        return (*self.from_stages, "closed") if self.on_closed else self.from_stages

    def takes(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("note", "free text recorded on the episode's log", required=("note",), on_closed=True),
    Kind("flag", "raise the episode for the next huddle, with the reason", required=("reason",),
         rules=("not_flagged",)),
    Kind("unflag", "take the flag down without a discussion", rules=("flagged",)),
    Kind("discussed", "the episode was discussed at a huddle or a progression meeting: what was decided, "
                      "and optionally the next action and its due date (which replaces the open one); "
                      "a discussion takes the flag down",
         required=("where", "decision"), optional=("next_action", "due"), rules=("where", "due_with_action")),
    Kind("next_action", "what is to happen next and by when; replaces the open next action",
         required=("text", "due")),
    Kind("reprioritise", "a new priority, with the reason", required=("priority", "reason"), sets=("priority",),
         rules=("priority_changes",)),
    Kind("reclassify", "a new client group, with the reason (reports count the episode under its group "
                       "at each date)", required=("client_group", "reason"), sets=("client_group",),
         rules=("client_group_changes",)),
    Kind("transfer", "move the person to another team's front door or queue, with the reason; the wait "
                     "clock keeps running, so the new team's queue sees the original wait",
         required=("team", "reason"), from_stages=("contact", *WAITING), sets=("team",),
         rules=("team_changes",)),
    Kind(conversations.KIND, "a conversation with the person: booked (in a mode, and for a time if given), held "
                             "(in a mode, for some minutes), cancelled or not attended",
         required=("status",), optional=("mode", "at", "minutes"),
         rules=("conversation_status", "conversation_mode", "conversation_minutes", "conversation_at"),
         progress=False),
    Kind(WELFARE_CHECK, "a welfare check made on the person, with its outcome; checks made in bulk come in by the "
                        "outreach import, which opens a contact for a person with no open episode",
         required=("outcome",), rules=("welfare_check_outcome",), progress=False,
         records=(("placed", "open_episode"),)),
)}

# Every Move field some kind takes, with the kinds that take it: a field given to another trigger is refused.
FIELD_KINDS: dict[str, tuple[str, ...]] = {}
for _kind in KINDS.values():
    for _name in _kind.takes():
        FIELD_KINDS[_name] = (*FIELD_KINDS.get(_name, ()), _kind.name)
# The note is free text any event may carry; as a kind of its own it is required.
SHARED = ("note",)
# The fields of the pathway's own moves: a kind may take one too (a welfare check's outcome), so given to
# a move they are the move's, never refused as another kind's.
MOVE_FIELDS = ("worker", "outcome", "keep_worker", "to")
KIND_FIELDS = tuple(f for f in FIELD_KINDS if f not in SHARED and f not in MOVE_FIELDS)


def is_kind(trigger: str) -> bool:
    return trigger in KINDS


@dataclass(frozen=True)
class Progress:
    """What the kinds keep of an episode besides its row: the open flag, the open next action, the last
    discussion, and the last event of these kinds."""

    flagged_at: dt.datetime | None = None
    flag_reason: str | None = None
    next_action: str | None = None
    next_action_due: dt.date | None = None
    discussed_at: dt.datetime | None = None
    discussed_where: str | None = None
    last_at: dt.datetime | None = None

    @property
    def flagged(self) -> bool:
        return self.flagged_at is not None


PROGRESS_FIELDS = tuple(f.name for f in dataclasses.fields(Progress))


# -- checks ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Asked:
    """What a check sees: the kind, the episode's stage and its changed fields' current values, its
    Progress, the event's fields (``data``) and when the episode's contact was made."""

    kind: str
    stage: str
    current: dict
    progress: Progress
    data: dict
    contact_at: dt.datetime | None = None


def _not_flagged(a: Asked) -> str | None:
    if a.progress.flagged:
        return (f"the episode is already flagged (since {a.progress.flagged_at.isoformat()}: "
                f"{a.progress.flag_reason!r}); discuss it or unflag it first")
    return None


def _flagged(a: Asked) -> str | None:
    return None if a.progress.flagged else "the episode is not flagged; unflag takes down an open flag only"


def _where(a: Asked) -> str | None:
    where = a.data.get("where")
    return None if where in WHERE else f"where must be one of {', '.join(WHERE)}, not {where!r}"


def _due_with_action(a: Asked) -> str | None:
    if ("due" in a.data) != ("next_action" in a.data):
        return "a discussion's next_action and due go together: give both or neither"
    return None


def _changes(name: str) -> Callable[[Asked], str | None]:
    def check(a: Asked) -> str | None:
        if a.data.get(name) == a.current.get(name):
            return f"the episode's {name} is already {a.current.get(name)!r}; {a.kind} needs a different one"
        return None

    return check


def _priority(a: Asked) -> str | None:
    if a.data["priority"] not in PRIORITIES:
        return f"unknown priority {a.data['priority']!r}; priorities are: {', '.join(PRIORITIES)}"
    return _changes("priority")(a)


def _welfare_check_outcome(a: Asked) -> str | None:
    return outreach_outcome_problem(a.data["outcome"])


# A check returns what is wrong (with the field it is about), or None. Client groups and teams are the
# configuration's and the database's: the services check those exist before these run.
RULES: dict[str, tuple[str, Callable[[Asked], str | None]]] = {
    "not_flagged": ("trigger", _not_flagged),
    "flagged": ("trigger", _flagged),
    "where": ("where", _where),
    "due_with_action": ("due", _due_with_action),
    "priority_changes": ("priority", _priority),
    "client_group_changes": ("client_group", _changes("client_group")),
    "team_changes": ("team", _changes("team")),
    "conversation_status": ("status", conversations.status),
    "conversation_mode": ("mode", conversations.mode),
    "conversation_minutes": ("minutes", conversations.minutes),
    "conversation_at": ("at", conversations.booked_for),
    "welfare_check_outcome": ("outcome", _welfare_check_outcome),
}


def check(kind: Kind, stage: str, current: dict, progress: Progress, data: dict, today: dt.date,
          contact_at: dt.datetime | None = None) -> None:
    """Refuse the event (a PathwayError naming what is wrong and what is allowed) unless it may be recorded
    (``today``: the London date now, which a due date may not be before; ``contact_at``: the episode's
    contact, which a conversation may not be booked before)."""
    if stage not in kind.stages():
        allowed = [k for k, spec in KINDS.items() if stage in spec.stages()]
        raise InvalidTransition(stage, kind.name, allowed)
    for name in kind.required:
        if data.get(name) in (None, ""):
            raise ValidationError(f"{kind.name} needs {name} (it needs {', '.join(kind.required)}"
                                  + (f"; may have {', '.join(kind.optional)})" if kind.optional else ")"), field=name)
    if "due" in data and data["due"] < today:
        raise ValidationError(f"due {data['due'].isoformat()} is in the past (today is {today.isoformat()}); "
                              "a due date is today or later", field="due")
    for rule in kind.rules:
        field, test = RULES[rule]
        wrong = test(Asked(kind.name, stage, current, progress, data, contact_at))
        if wrong:
            raise ValidationError(f"{kind.name}: {wrong}", field=field)


def check_fields(trigger: str, given: dict) -> None:
    """Refuse a field (of :data:`FIELD_KINDS`) given to a trigger or kind that does not take it."""
    kind = KINDS.get(trigger)
    for name, value in given.items():
        if value is None or name in SHARED:
            continue
        if kind is None or name not in kind.takes():
            takers = ", ".join(FIELD_KINDS[name])
            raise ValidationError(f"{name} is given only with {takers}, not with {trigger}", field=name)


# -- the fold ----------------------------------------------------------------------------------------

def changes(kind: Kind, data: dict) -> dict:
    """The episode fields the event changes."""
    return {name: data[name] for name in kind.sets}


def advance(progress: Progress, trigger: str, at: dt.datetime, data: dict) -> Progress:
    """The Progress after an event of kind ``trigger``."""
    change: dict = {"last_at": at}
    if trigger == "flag":
        change.update(flagged_at=at, flag_reason=data["reason"])
    elif trigger == "unflag":
        change.update(flagged_at=None, flag_reason=None)
    elif trigger == "discussed":
        change.update(discussed_at=at, discussed_where=data["where"], flagged_at=None, flag_reason=None)
        if data.get("next_action"):
            change.update(next_action=data["next_action"], next_action_due=_date(data["due"]))
    elif trigger == "next_action":
        change.update(next_action=data["text"], next_action_due=_date(data["due"]))
    return dataclasses.replace(progress, **change)


def _date(value) -> dt.date:
    """A due date as the event's data holds it (a date, or its ISO text once stored as JSON)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def replay(facts) -> Progress:
    """The Progress rebuilt from an episode's whole log (``facts``: trigger, occurred_at and data)."""
    progress = Progress()
    for fact in facts:
        kind = KINDS.get(fact.trigger)
        if kind is not None and kind.progress:
            progress = advance(progress, fact.trigger, fact.occurred_at, fact.data)
    return progress


def markdown_table() -> str:
    """The kinds as the reference page shows them (docs/casework.md, checked by a test to be current)."""
    lines = ["| kind | needs | may have | from | changes | refused when |", "| --- | --- | --- | --- | --- | --- |"]
    for kind in KINDS.values():
        stages = "any stage" if kind.on_closed else ("any open stage" if kind.from_stages == OPEN
                                                     else ", ".join(f"`{s}`" for s in kind.from_stages))
        refused = [] if kind.on_closed else ["the episode is closed"]
        if not kind.on_closed and kind.from_stages != OPEN:
            refused.append("from any other stage")
        refused += [RULE_TEXT[r] for r in kind.rules]
        if "due" in kind.takes():
            refused.append("a due date before today")
        optional = [n for n in (*kind.optional, *SHARED) if n not in kind.required]
        lines.append(f"| `{kind.name}` | {_names(kind.required)} | {_names(optional)} | {stages} | "
                     f"{_names(kind.sets)} | {'; '.join(refused) or '—'} |")
    return "\n".join(lines) + "\n"


def _names(names) -> str:
    return ", ".join(f"`{n}`" for n in dict.fromkeys(names)) or "—"


def _or(words) -> str:
    *rest, last = [f"`{w}`" for w in words]
    return f"{', '.join(rest)} or {last}"


# How each named check reads on the reference page.
RULE_TEXT = {
    "not_flagged": "already flagged",
    "flagged": "not flagged",
    "where": "`where` is not `huddle` or `progression`",
    "due_with_action": "`next_action` without `due` or the other way round",
    "priority_changes": "an unknown priority, or the one it has",
    "client_group_changes": "an unknown client group, or the one it has",
    "team_changes": "an unknown team, or its own",
    "conversation_status": f"a `status` not {_or(conversations.STATUSES)}",
    "conversation_mode": f"a `mode` not {_or(conversations.MODES)}, or none on `booked` or `held`",
    "conversation_minutes": f"`minutes` on anything but `held`, or not from 1 to {conversations.MAX_MINUTES}",
    "conversation_at": "`at` (the time booked for) on anything but `booked`, or before the contact",
    "welfare_check_outcome": f"an `outcome` not {_or(OUTREACH_OUTCOMES)}",
}
