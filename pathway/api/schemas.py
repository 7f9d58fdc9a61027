"""Request and reply shapes: requests forbid unknown fields; replies carry no internal field."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
import typing
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, field_validator

from pathway.domain.commands import Move, RecordContact, fields_of
from pathway.services.engine import EpisodeOut

# Bounds the database can hold on both engines (PostgreSQL integers are 32-bit).
MAX_INT = 2_147_483_647
Key = Field(min_length=1, max_length=64, description="lower-case letters, digits, '_' or '-'",
            examples=["north"])
IdempotencyKey = Field(default=None, min_length=1, max_length=200,
                       description="repeat a request with the same key to get the first reply; "
                                   "the same key with another body is 409")


def ascii_whole(value):
    """An id in a path is a whole number in ASCII digits: not 1.0, not ١, not +1."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and len(value) <= 10):
        raise ValueError("an id is a whole number of up to 10 digits 0-9, such as 42")
    return value


# An id in a path: an episode's, a token's.
EpisodeId = Annotated[int, Path(ge=1, le=MAX_INT, description="the episode's id"), BeforeValidator(ascii_whole)]
TokenId = Annotated[int, Path(ge=1, le=MAX_INT, description="the token's id"), BeforeValidator(ascii_whole)]


def _kinds(annotation) -> set:
    """The plain types a field's annotation allows (through Optional, unions and lists' absence)."""
    args = typing.get_args(annotation)
    if not args:
        return {annotation}
    return set().union(*(_kinds(a) for a in args)) if typing.get_origin(annotation) is not list else {list}


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _plain_values(cls, value, info):
        # PostgreSQL cannot store NUL in text; refuse it here with a clear 422.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text may not contain NUL characters")
        # A JSON value has its field's own type: true is not 1, 1.0 and "1" are not whole numbers, 1 is not true.
        kinds = _kinds(cls.model_fields[info.field_name].annotation)
        if value is None or isinstance(value, str) and str in kinds:
            return value
        if bool in kinds and not isinstance(value, bool) and int not in kinds:
            raise ValueError("must be true or false")
        if int in kinds and float not in kinds and (isinstance(value, bool | float | str)):
            raise ValueError("must be a whole number, such as 3")
        if float in kinds and isinstance(value, bool | str):
            raise ValueError("must be a number, such as 0.5")
        return value


class TeamCreate(Request):
    key: str = Key
    name: str = Field(min_length=1, max_length=200, examples=["North"])
    idempotency_key: str | None = IdempotencyKey


class TeamPublic(BaseModel):
    key: str
    name: str
    created_at: dt.datetime
    created_by: str


class WorkerCreate(Request):
    key: str = Key
    name: str = Field(min_length=1, max_length=200, examples=["Amira"])
    team: str = Key
    caseload_cap: int | None = Field(default=None, ge=1, le=10_000)
    idempotency_key: str | None = IdempotencyKey


class WorkerPublic(BaseModel):
    key: str
    name: str
    team: str
    caseload_cap: int | None
    created_at: dt.datetime
    created_by: str


class StaffPublic(WorkerPublic):
    """A worker in the staff list: their caseload against the cap they work to."""

    active: bool
    caseload: int
    cap: int  # their own caseload_cap, else the configured default
    free: int
    over_cap: bool
    updated_at: dt.datetime | None
    updated_by: str | None


def _json_type(annotation):
    """A command field's type as a JSON body carries it: a time or a date is ISO 8601 text (the engine
    parses it)."""
    args = typing.get_args(annotation)
    if dt.datetime in args or dt.date in args:
        return functools.reduce(operator.or_, (a for a in args if a not in (dt.datetime, dt.date)))
    return annotation


def command_model(command: type, name: str, doc: str, *, exclude: tuple[str, ...] = (),
                  required: tuple[str, ...] = ()) -> type[Request]:
    """The request body of a command object (pathway.domain.commands): its fields' names, types and
    defaults, and their metadata's description, min_length, max_length and examples, so a field added to the
    command reaches HTTP with no other change. ``exclude``: fields that HTTP carries elsewhere (or that a
    narrower body does not take); ``required``: fields this body must have though the command need not."""
    hints = typing.get_type_hints(command)
    fields = {}
    for f in fields_of(command):
        if f.name in exclude:
            continue
        meta = dict(f.metadata)
        default = ... if f.default is dataclasses.MISSING or f.name in required else f.default
        kind = _json_type(hints[f.name])
        if f.name in required:  # no null either
            kind = functools.reduce(operator.or_, (a for a in typing.get_args(kind) if a is not type(None)))
        fields[f.name] = (kind,
                          Field(default, description=meta.get("description"), min_length=meta.get("min_length"),
                                max_length=meta.get("max_length"), examples=meta.get("examples")))
    return create_model(name, __base__=Request, __doc__=doc, **fields)


ContactCreate = command_model(RecordContact, "ContactCreate", "A new contact (pathway.domain.commands.RecordContact).")
# The expected version travels in the If-Match header, as HTTP's optimistic concurrency does.
EventCreate = command_model(Move, "EventCreate", "A move of the episode (pathway.domain.commands.Move).",
                            exclude=("expected_version",))


# The engine's episode without its internal fields (the optimistic-lock version).
EpisodePublic = create_model(
    "EpisodePublic", __doc__="An episode as the API returns it.",
    **{name: (f.annotation, ...) for name, f in EpisodeOut.model_fields.items() if name not in ("version", "takers")})
QueuedEpisodePublic = create_model(
    "QueuedEpisodePublic", __base__=EpisodePublic, __doc__="A waiting episode as the team's queue lists it.",
    takers=(int, Field(description="how many of the team's workers could take this person now: present, skilled "
                                   "for them and with room (0: nobody on duty can)")))


class EventPublic(BaseModel):
    seq: int
    trigger: str
    from_stage: str | None
    to_stage: str
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    actor: str
    worker: str | None
    outcome: str | None
    note: str | None
    allocation: str | None
    data: dict[str, Any] = Field(default_factory=dict, description=(
        "the event's own fields (an event kind's reason, where, decision, next action and due, …; "
        "the values a change replaced in 'from')"))


class TokenCreate(Request):
    role: str = Field(examples=["duty"], description="duty, manager, integration or admin")
    worker: str | None = Field(default=None, min_length=1, max_length=64)
    team: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=100)
    expires: str | None = Field(default=None, min_length=1, max_length=64, examples=["30d"],
                                description="a lifetime (30d, 12h, 90m) or an ISO 8601 date or time; "
                                            "default: the role's (security.token_days)")
    idempotency_key: str | None = IdempotencyKey


class TokenPublic(BaseModel):
    id: int
    name: str
    role: str
    worker: str | None
    team: str | None
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None
    expires_at: dt.datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="shown this once; only its hash is kept")


class WebhookCreate(Request):
    url: str = Field(min_length=1, max_length=2000, description="https:// (http:// only to hosts the "
                     "webhooks.allow_http_hosts setting names); no credentials; not an internal address")
    events: list[str] = Field(min_length=1, max_length=50)
    teams: list[str] | None = Field(default=None, min_length=1, max_length=200,
                                    description="only events of these teams (default: every team)")
    secret: str | None = Field(default=None, min_length=16, max_length=500,
                               description="whsec_ and 24-64 random bytes in base64; left out, the engine makes "
                                           "one and returns it once")
    idempotency_key: str | None = IdempotencyKey


class SecretRotate(Request):
    secret: str | None = Field(default=None, min_length=16, max_length=500,
                               description="the new whsec_ secret; left out, the engine makes one")
    overlap: float | None = Field(default=None, ge=0, le=2_592_000,
                                  description="seconds the old secret also signs (default: the setting)")


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    error: str
    detail: str


class Health(BaseModel):
    status: str
    database: str
    broker: str


Row = dict[str, Any]
