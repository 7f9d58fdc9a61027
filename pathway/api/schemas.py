"""Request and reply shapes: requests forbid unknown fields; replies carry no internal field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from pathway.services.engine import EpisodeOut

# Bounds the database can hold on both engines (PostgreSQL integers are 32-bit).
MAX_INT = 2_147_483_647
Key = Field(min_length=1, max_length=64, description="lower-case letters, digits, '_' or '-'",
            examples=["north"])
IdempotencyKey = Field(default=None, min_length=1, max_length=200,
                       description="repeat a request with the same key to get the first reply; "
                                   "the same key with another body is 409")


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value):
        # PostgreSQL cannot store NUL in text; refuse it here with a clear 422.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text may not contain NUL characters")
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


class ContactCreate(Request):
    person_ref: str = Field(min_length=1, max_length=64, examples=["LAS-1042"],
                            description="the back end's reference for the person, never a name")
    client_group: str = Field(min_length=1, max_length=64, examples=["learning_disability"])
    team: str = Key
    occurred_at: str | None = Field(default=None, max_length=64, examples=["2026-03-02T09:15:00+00:00"],
                                    description="ISO 8601; a bare date is midnight Europe/London; default now")
    priority: str = Field(default="normal", max_length=16, examples=["normal"],
                          description="crisis, high, normal or low")
    route: str | None = Field(default=None, min_length=1, max_length=64)
    idempotency_key: str | None = IdempotencyKey


class EventCreate(Request):
    trigger: str = Field(min_length=1, max_length=32, examples=["refer"],
                         description="resolve, refer, allocate, release, crisis, stabilise, plan or close")
    occurred_at: str | None = Field(default=None, max_length=64)
    worker: str | None = Field(default=None, min_length=1, max_length=64)
    outcome: str | None = Field(default=None, min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=4000)
    idempotency_key: str | None = IdempotencyKey


# The engine's episode without its internal fields (the optimistic-lock version).
EpisodePublic = create_model(
    "EpisodePublic", __doc__="An episode as the API returns it.",
    **{name: (f.annotation, ...) for name, f in EpisodeOut.model_fields.items() if name != "version"})


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


class TokenCreate(Request):
    role: str = Field(examples=["duty"], description="duty, manager, integration or admin")
    worker: str | None = Field(default=None, min_length=1, max_length=64)
    team: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=100)
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


class TokenCreated(TokenPublic):
    token: str = Field(description="shown this once; only its hash is kept")


class WebhookCreate(Request):
    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=50)
    secret: str = Field(min_length=16, max_length=500)
    idempotency_key: str | None = IdempotencyKey


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    error: str
    detail: str


class Health(BaseModel):
    status: str
    database: str
    broker: str


Row = dict[str, Any]
