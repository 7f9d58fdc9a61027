"""The writes, each one command object: what every interface (Python, HTTP, the command line) asks for.

An entrypoint builds the command from its own input and hands it on unchanged to the write, so an
argument is declared here once: the HTTP request models are made from these fields (their
``metadata`` holds what the API documents), and a test checks that the command line offers each.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from pathway.domain.checks import request_hash


def _doc(description: str, max_length: int | None = None, **more) -> dict:
    return {"description": description, "max_length": max_length, **more}


@dataclass(frozen=True)
class Move:
    """Move an episode on by a trigger (pathway.domain.stages.TRIGGERS)."""

    trigger: str = field(metadata=_doc("resolve, refer, allocate, release, crisis, stabilise, plan or close", 32,
                                       examples=["refer"], min_length=1))
    occurred_at: str | dt.datetime | None = field(
        default=None, metadata=_doc("ISO 8601; a bare date is midnight Europe/London; default now", 64))
    worker: str | None = field(default=None, metadata=_doc("allocate: the worker who takes the person", 64,
                                                           min_length=1))
    outcome: str | None = field(default=None, metadata=_doc("resolve and close: how the episode ended", 64,
                                                            min_length=1))
    keep_worker: bool = field(default=False, metadata=_doc(
        "crisis: the allocated worker keeps the person through the crisis (c2_active, no wait)"))
    to: str | None = field(default=None, metadata=_doc(
        "stabilise: back to 'c1' (listen and connect, the default) or on to 'c3' (build a good life)", 2))
    note: str | None = field(default=None, metadata=_doc("free text recorded on the event", 4000))
    override: str | None = field(default=None, metadata=_doc(
        "allocate by a manager: the reason for allocating a worker without the skill the person needs", 500,
        min_length=1))
    idempotency_key: str | None = field(default=None, metadata=_doc(
        "repeat a request with the same key to get the first reply; the same key with another body is 409", 200,
        min_length=1))
    expected_version: int | None = field(default=None, metadata=_doc(
        "apply only if the episode is still at this version (HTTP: If-Match), else 409/412 and nothing written"))

    def fingerprint(self) -> str:
        """The request hash its event records: a retry with the same idempotency key must match it."""
        return request_hash({"trigger": self.trigger, "occurred_at": self.occurred_at, "worker": self.worker,
                             "outcome": self.outcome, "note": self.note, "keep_worker": self.keep_worker,
                             "to": self.to, **({"override": self.override} if self.override else {})})


@dataclass(frozen=True)
class RecordContact:
    """A new contact: creates the person's episode at stage ``contact``."""

    person_ref: str = field(metadata=_doc("the back end's reference for the person, never a name", 64,
                                          examples=["LAS-1042"], min_length=1))
    client_group: str = field(metadata=_doc("pathway's client group (settings.client_groups)", 64,
                                            examples=["learning_disability"], min_length=1))
    team: str = field(metadata=_doc("the team whose front door took the contact", 64, examples=["north"],
                                    min_length=1))
    occurred_at: str | dt.datetime | None = field(
        default=None, metadata=_doc("ISO 8601; a bare date is midnight Europe/London; default now", 64))
    priority: str = field(default="normal", metadata=_doc("crisis, high, normal or low", 16))
    route: str | None = field(default=None, metadata=_doc("how the contact came in (a short code)", 64,
                                                          min_length=1))
    idempotency_key: str | None = field(default=None, metadata=_doc(
        "repeat a request with the same key to get the first reply; the same key with another body is 409", 200,
        min_length=1))

    def fingerprint(self) -> str:
        return request_hash({k: v for k, v in dataclasses.asdict(self).items() if k != "idempotency_key"})


def fields_of(command: type) -> tuple[dataclasses.Field, ...]:
    """A command's fields, in order: what an interface must offer."""
    return dataclasses.fields(command)
