"""``pathway.Engine``: the library back ends embed; every method is one unit of work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pydantic import BaseModel

from pathway import allocation, days, services
from pathway.db import make_engine, unit_of_work, upgrade
from pathway.episode import EpisodeState
from pathway.reports import Reports
from pathway.settings import Settings, load_settings


class EpisodeOut(BaseModel):
    """An episode as back ends see it (API.md's episode fields, plus a few more)."""

    id: int
    person_ref: str
    client_group: str
    team: str
    stage: str
    worker: str | None
    priority: str
    route: str | None
    contact_at: dt.datetime
    stage_at: dt.datetime
    wait_from: dt.datetime | None
    allocated_at: dt.datetime | None
    outcome: str | None
    closed_at: dt.datetime | None
    days_waiting: int | None
    days_to_allocation: int | None
    version: int


class Engine:
    """The Three Conversations engine on one database.

    ``Engine()`` uses the embedded default (SQLite in ./pathway.db) or PATHWAY_DATABASE_URL;
    ``Engine("postgresql+psycopg://…")`` names a database. The schema is migrated on first use.
    """

    def __init__(self, url: str | None = None, *, settings: Settings | None = None,
                 actor: str = "library", migrate: bool = True,
                 clock: Callable[[], dt.datetime] = days.now):
        overrides = {"database_url": url} if url else {}
        self.settings = settings.model_copy(update=overrides) if settings else load_settings(**overrides)
        self.db = make_engine(self.settings.database_url)
        self.actor = actor
        self.clock = clock
        self.reports = Reports(self)  # -- reports: waits, allocation, trends, … (pathway/reports.py)
        if migrate:
            upgrade(self.db)

    # -- plumbing ---------------------------------------------------------------------------------

    def transaction(self, write: bool = True):
        return unit_of_work(self.db, write=write)

    def now(self) -> dt.datetime:
        return self.clock()

    def episode_out(self, state: EpisodeState, as_at: dt.datetime | None = None) -> EpisodeOut:
        mode = self.settings.day_mode
        return EpisodeOut(
            **{k: getattr(state, k) for k in EpisodeOut.model_fields if hasattr(state, k)
               and k not in ("days_waiting", "days_to_allocation")},
            days_waiting=state.days_waiting(as_at or self.now(), mode),
            days_to_allocation=state.days_to_allocation(mode),
        )

    def dispose(self) -> None:
        self.db.dispose()

    # -- teams and workers ------------------------------------------------------------------------

    def create_team(self, key: str, name: str, *, actor: str | None = None) -> dict:
        with self.transaction() as conn:
            return services.create_team(conn, key, name, actor or self.actor, self.now())

    def create_worker(self, key: str, name: str, team: str, caseload_cap: int | None = None, *,
                      actor: str | None = None) -> dict:
        with self.transaction() as conn:
            return services.create_worker(conn, key, name, team, caseload_cap, actor or self.actor, self.now())

    # -- episodes ---------------------------------------------------------------------------------

    def record_contact(self, person_ref: str, client_group: str, team: str, *, occurred_at=None,
                       priority: str = "normal", route: str | None = None,
                       idempotency_key: str | None = None, actor: str | None = None) -> EpisodeOut:
        """A new contact: creates the person's episode at stage ``contact``."""
        with self.transaction() as conn:
            state = services.record_contact(
                conn, self.settings, person_ref=person_ref, client_group=client_group, team=team,
                occurred_at=occurred_at, priority=priority, route=route, idempotency_key=idempotency_key,
                actor=actor or self.actor, now=self.now())
        return self.episode_out(state)

    def fire(self, episode_id: int, trigger: str, *, occurred_at=None, worker: str | None = None,
             outcome: str | None = None, note: str | None = None, keep_worker: bool = False,
             to: str | None = None, idempotency_key: str | None = None,
             expected_version: int | None = None, actor: str | None = None) -> EpisodeOut:
        """Move an episode on: ``trigger`` is one of pathway.stages.TRIGGERS."""
        with self.transaction() as conn:
            state = services.fire(
                conn, self.settings, episode_id, trigger, occurred_at=occurred_at, worker=worker,
                outcome=outcome, note=note, keep_worker=keep_worker, to=to,
                idempotency_key=idempotency_key, expected_version=expected_version,
                actor=actor or self.actor, now=self.now(),
                check_allocation=allocation.allocation_check(self.settings))
        return self.episode_out(state)

    def get(self, episode_id: int) -> EpisodeOut:
        with self.transaction(write=False) as conn:
            return self.episode_out(services.load_state(conn, episode_id))

    def history(self, episode_id: int) -> list[dict]:
        """The episode's append-only event log, oldest first."""
        with self.transaction(write=False) as conn:
            return services.history(conn, episode_id)

    def replay(self, episode_id: int) -> EpisodeOut:
        """The episode rebuilt from its events alone (it equals ``get``: the log is the truth)."""
        with self.transaction(write=False) as conn:
            return self.episode_out(services.replay(conn, episode_id))

    def allocations(self, episode_id: int) -> list[dict]:
        """Every wait of the episode that ended in an allocation: conversation, start, allocation, days."""
        mode = self.settings.day_mode
        out = []
        for ev in self.history(episode_id):
            if ev["first_allocation"]:
                out.append({"conversation": ev["to_stage"].split("_")[0], "wait_from": ev["wait_from"],
                            "allocated_at": ev["occurred_at"], "worker": ev["worker"],
                            "allocation": ev["allocation"],
                            "days": days.days_from(ev["wait_from"], ev["occurred_at"], mode)})
        return out

    # -- duty desk: queues and self-allocation (pathway/allocation.py) ------------------------------

    def queue(self, team: str) -> list[EpisodeOut]:
        """The team's waiting episodes in claim order (pathway.allocation.CLAIM_ORDER)."""
        with self.transaction(write=False) as conn:
            return [self.episode_out(state) for state in allocation.queue(conn, team)]

    def claim_next(self, team: str, worker: str, *, actor: str | None = None) -> EpisodeOut | None:
        """Self-allocation: ``worker`` takes the first claimable episode of their team's queue.

        None when nothing waits; CaseloadFull when the worker is at cap (a crisis may still be
        taken over cap when ``caseload.crisis_over_cap`` is set, the default)."""
        with self.transaction() as conn:
            state = allocation.claim_next(conn, self.settings, team, worker, actor=actor or self.actor,
                                          now=self.now())
        return None if state is None else self.episode_out(state)

    def claim(self, episode_id: int, worker: str, *, actor: str | None = None) -> EpisodeOut:
        """Self-allocation of one waiting episode; Conflict if someone has already taken it."""
        with self.transaction() as conn:
            state = allocation.claim(conn, self.settings, episode_id, worker, actor=actor or self.actor,
                                     now=self.now())
        return self.episode_out(state)

    def caseloads(self, team: str | None = None) -> list[dict]:
        """Each worker's caseload (episodes in ``*_active`` stages) against their cap."""
        with self.transaction(write=False) as conn:
            return allocation.caseloads(conn, self.settings, team)

    # -- reports (pathway/reports.py) --------------------------------------------------------------

    # -- background work: outbox, webhooks, wait tracking (pathway/outbox.py, workers/) ---------------

    # -- reports (pathway/reports.py) --------------------------------------------------------------

    # -- background work: outbox, webhooks, wait tracking (pathway/outbox.py, workers/) ---------------

    # -- history in and national returns out (pathway/history.py, pathway/cld.py) --------------------
