"""The writes, each one command object: what every interface (Python, HTTP, the command line) asks for.

An entrypoint builds the command from its own input and hands it on unchanged to the write, so an
argument is declared here once: the HTTP request models are made from these fields (their
``metadata`` holds what the API documents), and a test checks that the command line offers each.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from pathway.domain import conversations
from pathway.domain.checks import request_hash
from pathway.domain.events import KIND_FIELDS, KINDS
from pathway.domain.scrutiny import OUTREACH_OUTCOMES
from pathway.domain.stages import TRIGGERS


def _doc(description: str, max_length: int | None = None, **more) -> dict:
    return {"description": description, "max_length": max_length, **more}


def _either(words) -> str:
    *rest, last = words
    return f"{', '.join(rest)} or {last}"


@dataclass(frozen=True)
class Move:
    """Move an episode on by a trigger (pathway.domain.stages.TRIGGERS)."""

    trigger: str = field(metadata=_doc(
        f"{_either(TRIGGERS)}; or an event that keeps the stage: {_either(KINDS)}", 32,
        examples=["refer"], min_length=1))
    occurred_at: str | dt.datetime | None = field(
        default=None, metadata=_doc("ISO 8601; a bare date is midnight Europe/London; default now", 64))
    worker: str | None = field(default=None, metadata=_doc("allocate: the worker who takes the person", 64,
                                                           min_length=1))
    outcome: str | None = field(default=None, metadata=_doc(
        f"resolve and close: how the episode ended; welfare_check: {_either(OUTREACH_OUTCOMES)}", 64,
        min_length=1))
    keep_worker: bool = field(default=False, metadata=_doc(
        "crisis: the allocated worker keeps the person through the crisis (c2_active, no wait)"))
    to: str | None = field(default=None, metadata=_doc(
        "stabilise: back to 'c1' (listen and connect, the default) or on to 'c3' (build a good life)", 2))
    note: str | None = field(default=None, metadata=_doc("free text recorded on the event (note: required)", 4000))
    override: str | None = field(default=None, metadata=_doc(
        "allocate by a manager: the reason for allocating a worker without the skill the person needs", 500,
        min_length=1))
    weight: float | None = field(default=None, metadata=_doc(
        "allocate by a manager: how much the person weighs in the worker's caseload (1 is an ordinary case; "
        "settings.workforce.weight_min to weight_max), with weight_reason"))
    weight_reason: str | None = field(default=None, metadata=_doc(
        "allocate by a manager: why the person weighs what weight says (required with it)", 200, min_length=1))
    # The fields of the events that keep the stage (pathway.domain.events.KINDS says which kind takes which).
    reason: str | None = field(default=None, metadata=_doc(
        "flag, reprioritise, reclassify, transfer: why", 500, min_length=1))
    where: str | None = field(default=None, metadata=_doc(
        "discussed: where it was discussed, 'huddle' or 'progression' (the case progression meeting)", 16,
        min_length=1))
    decision: str | None = field(default=None, metadata=_doc("discussed: what was decided", 2000, min_length=1))
    next_action: str | None = field(default=None, metadata=_doc(
        "discussed: the next action agreed (with due); replaces the open one", 500, min_length=1))
    text: str | None = field(default=None, metadata=_doc(
        "next_action: what is to happen next; replaces the open next action", 500, min_length=1))
    due: str | dt.date | None = field(default=None, metadata=_doc(
        "next_action, discussed: the next action's due date (YYYY-MM-DD, today or later)", 32))
    priority: str | None = field(default=None, metadata=_doc("reprioritise: crisis, high, normal or low", 16,
                                                             min_length=1))
    client_group: str | None = field(default=None, metadata=_doc("reclassify: the new client group", 64,
                                                                 min_length=1))
    team: str | None = field(default=None, metadata=_doc(
        "transfer: the team the person moves to (from contact or a waiting stage)", 64, min_length=1))
    status: str | None = field(default=None, metadata=_doc(
        f"conversation: {_either(conversations.STATUSES)}", 16, min_length=1))
    mode: str | None = field(default=None, metadata=_doc(
        f"conversation: {_either(conversations.MODES)} (booked and held: required)", 32, min_length=1))
    at: str | dt.datetime | None = field(default=None, metadata=_doc(
        "conversation booked: the time it is booked for (ISO 8601; not before the contact)", 64, min_length=1))
    minutes: int | None = field(default=None, metadata=_doc(
        f"conversation held: how long it took, 1 to {conversations.MAX_MINUTES}"))
    idempotency_key: str | None = field(default=None, metadata=_doc(
        "repeat a request with the same key to get the first reply; the same key with another body is 409", 200,
        min_length=1))
    expected_version: int | None = field(default=None, metadata=_doc(
        "apply only if the episode is still at this version (HTTP: If-Match), else 409/412 and nothing written"))

    def fingerprint(self) -> str:
        """The request hash its event records: a retry with the same idempotency key must match it."""
        body = {"trigger": self.trigger, "occurred_at": self.occurred_at, "worker": self.worker,
                "outcome": self.outcome, "note": self.note, "keep_worker": self.keep_worker, "to": self.to}
        if self.override:
            body["override"] = self.override
        # Counted only when given, as the kinds' fields are; 2 and 2.0 are the same weight.
        if self.weight is not None:
            body["weight"] = float(self.weight) if type(self.weight) is int else self.weight
        if self.weight_reason is not None:
            body["weight_reason"] = self.weight_reason
        # The event kinds' fields count only when given, so a move's hash is what it always was.
        body.update((name, getattr(self, name)) for name in KIND_FIELDS if getattr(self, name) is not None)
        return request_hash(body)

    def kind_fields(self) -> dict:
        """The event kinds' fields that were given (pathway.domain.events.FIELD_KINDS)."""
        return {name: getattr(self, name) for name in KIND_FIELDS if getattr(self, name) is not None}


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
    external_ref: str | None = field(default=None, metadata=_doc(
        "the back end's own case id for this episode (unique in the team; in every webhook)", 64, min_length=1))
    idempotency_key: str | None = field(default=None, metadata=_doc(
        "repeat a request with the same key to get the first reply; the same key with another body is 409", 200,
        min_length=1))

    def fingerprint(self) -> str:
        return request_hash({k: v for k, v in dataclasses.asdict(self).items()
                             if k != "idempotency_key" and (k != "external_ref" or v is not None)})


def fields_of(command: type) -> tuple[dataclasses.Field, ...]:
    """A command's fields, in order: what an interface must offer."""
    return dataclasses.fields(command)
