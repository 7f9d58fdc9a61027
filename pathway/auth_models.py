"""The HTTP API's tables: API tokens (stored only as a SHA-256 hash) and replies kept for idempotent retries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


class ApiToken(SQLModel, table=True):
    """One bearer token: a role, bound to a worker (duty) or a team (manager); the secret is never stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=16)  # duty | manager | integration | admin
    worker: str | None = Field(default=None, foreign_key="worker.key", max_length=64)
    team: str | None = Field(default=None, foreign_key="team.key", max_length=64)
    token_hash: str = Field(unique=True, max_length=64)  # sha256 hex of the token
    created_at: dt.datetime
    created_by: str = Field(max_length=200)
    revoked_at: dt.datetime | None = None


class ApiRequest(SQLModel, table=True):
    """The first reply to a write that carried an idempotency key, so a retry gets the same reply.

    Contacts and events keep their own keys in the event log; this is for the other writes
    (teams, workers, claims, webhooks, tokens). ``status`` 0 marks a request still running.
    """

    __tablename__ = "api_request"
    __table_args__ = (UniqueConstraint("actor", "idempotency_key", name="uq_api_request_key"),)

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=200)
    idempotency_key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status: int = 0
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: dt.datetime
