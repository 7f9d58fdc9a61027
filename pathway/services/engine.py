"""``pathway.Engine``: the library back ends embed; every method is one unit of work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pydantic import BaseModel

from pathway.domain import days
from pathway.domain.commands import Move
from pathway.domain.episode import EpisodeState
from pathway.domain.stages import conversation
from pathway.services import duty, episodes
from pathway.services.history import ImportSummary
from pathway.services.reports import Reports
from pathway.settings import Settings, load_settings
from pathway.store.db import make_engine, statement_by_statement, unit_of_work, upgrade
from pathway.store.unit import Store


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


# The fields an EpisodeOut copies from the episode's state (the days are worked out).
_STATE_OUT = tuple(k for k in EpisodeOut.model_fields if k in EpisodeState.__dataclass_fields__)


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
        self.db = make_engine(self.settings.database_url, pool_size=self.settings.database_pool_size)
        self.store = Store(self.db)  # the dialect is read here, once
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
            **{k: getattr(state, k) for k in _STATE_OUT},
            days_waiting=state.days_waiting(as_at or self.now(), mode),
            days_to_allocation=state.days_to_allocation(mode),
        )

    def dispose(self) -> None:
        self.db.dispose()

    # -- teams and workers ------------------------------------------------------------------------

    def create_team(self, key: str, name: str, *, actor: str | None = None) -> dict:
        with self.transaction() as conn:
            return episodes.create_team(conn, key, name, actor or self.actor, self.now())

    def create_worker(self, key: str, name: str, team: str, caseload_cap: int | None = None, *,
                      actor: str | None = None) -> dict:
        with self.transaction() as conn:
            return episodes.create_worker(conn, key, name, team, caseload_cap, actor or self.actor, self.now())

    # -- episodes ---------------------------------------------------------------------------------

    def record_contact(self, person_ref: str, client_group: str, team: str, *, occurred_at=None,
                       priority: str = "normal", route: str | None = None,
                       idempotency_key: str | None = None, actor: str | None = None) -> EpisodeOut:
        """A new contact: creates the person's episode at stage ``contact``."""
        with self.transaction() as conn:
            state = episodes.record_contact(
                conn, self.settings, person_ref=person_ref, client_group=client_group, team=team,
                occurred_at=occurred_at, priority=priority, route=route, idempotency_key=idempotency_key,
                actor=actor or self.actor, now=self.now())
        return self.episode_out(state)

    def fire(self, episode_id: int, trigger: str, *, actor: str | None = None, **fields) -> EpisodeOut:
        """Move an episode on: ``trigger`` is one of pathway.domain.stages.TRIGGERS; ``fields`` are the
        rest of a :class:`pathway.domain.commands.Move` (worker, outcome, keep_worker, to, note,
        occurred_at, idempotency_key, expected_version)."""
        return self.move(episode_id, Move(trigger=trigger, **fields), actor=actor)

    def move(self, episode_id: int, command: Move, *, actor: str | None = None) -> EpisodeOut:
        """Apply one move command to the episode (the write every interface's move ends in)."""
        # On PostgreSQL a move writes with one statement (episodes.MOVE, from the version it read:
        # it cannot land on a changed episode), so it needs no transaction around it and saves
        # BEGIN's and COMMIT's round trips. Not an allocation: that locks the worker and counts the
        # caseload before its move, and the lock must last until the move is committed.
        trigger = command.trigger
        one_statement = trigger != "allocate" and self.db.dialect.name == "postgresql"
        with statement_by_statement(self.db) if one_statement else self.transaction() as conn:
            state = episodes.fire(
                conn, self.settings, episode_id, trigger, occurred_at=command.occurred_at, worker=command.worker,
                outcome=command.outcome, note=command.note, keep_worker=command.keep_worker, to=command.to,
                idempotency_key=command.idempotency_key, expected_version=command.expected_version,
                actor=actor or self.actor, now=self.now(),
                check_allocation=duty.allocation_check(self.settings))
        return self.episode_out(state)

    def get(self, episode_id: int) -> EpisodeOut:
        with self.transaction(write=False) as conn:
            return self.episode_out(episodes.load_state(conn, episode_id))

    def history(self, episode_id: int) -> list[dict]:
        """The episode's append-only event log, oldest first."""
        with self.transaction(write=False) as conn:
            return episodes.history(conn, episode_id)

    def replay(self, episode_id: int) -> EpisodeOut:
        """The episode rebuilt from its events alone (it equals ``get``: the log is the truth)."""
        with self.transaction(write=False) as conn:
            return self.episode_out(episodes.replay(conn, episode_id))

    def allocations(self, episode_id: int) -> list[dict]:
        """Every wait of the episode that ended in an allocation: conversation, start, allocation, days."""
        mode = self.settings.day_mode
        out = []
        for ev in self.history(episode_id):
            if ev["first_allocation"]:
                out.append({"conversation": conversation(ev["to_stage"]), "wait_from": ev["wait_from"],
                            "allocated_at": ev["occurred_at"], "worker": ev["worker"],
                            "allocation": ev["allocation"],
                            "days": days.days_from(ev["wait_from"], ev["occurred_at"], mode)})
        return out

    # -- duty desk: queues and self-allocation (pathway/duty.py) ------------------------------

    def queue(self, team: str) -> list[EpisodeOut]:
        """The team's waiting episodes in claim order (pathway.allocation.CLAIM_ORDER)."""
        with self.transaction(write=False) as conn:
            return [self.episode_out(state) for state in duty.queue(conn, team)]

    def claim_next(self, team: str, worker: str, *, actor: str | None = None) -> EpisodeOut | None:
        """Self-allocation: ``worker`` takes the first claimable episode of their team's queue.

        None when nothing waits; CaseloadFull when the worker is at cap (a crisis may still be
        taken over cap when ``caseload.crisis_over_cap`` is set, the default)."""
        actor = actor or self.actor
        if self.db.dialect.name == "postgresql":  # the same claim, run by psycopg (see claim_next_pg)
            raw = self.db.raw_connection()
            try:
                state = duty.claim_next_pg(raw.driver_connection, self.settings, team, worker,
                                                 actor=actor, now=self.now())
            finally:
                raw.close()  # back to the pool
            if state is not duty.NOT_HANDLED:
                return None if state is None else self.episode_out(state)
        with self.transaction() as conn:
            state = duty.claim_next(conn, self.settings, team, worker, actor=actor, now=self.now())
        return None if state is None else self.episode_out(state)

    def claim(self, episode_id: int, worker: str, *, actor: str | None = None) -> EpisodeOut:
        """Self-allocation of one waiting episode; Conflict if someone has already taken it."""
        with self.transaction() as conn:
            state = duty.claim(conn, self.settings, episode_id, worker, actor=actor or self.actor,
                                     now=self.now())
        return self.episode_out(state)

    def caseloads(self, team: str | None = None) -> list[dict]:
        """Each worker's caseload (episodes in ``*_active`` stages) against their cap."""
        with self.transaction(write=False) as conn:
            return duty.caseloads(conn, self.settings, team)

    # -- reports (pathway/reports.py) --------------------------------------------------------------

    # -- background work: outbox, webhooks, wait tracking (pathway/outbox.py, workers/) ---------------

    def add_webhook(self, url: str, events, secret: str, *, actor: str | None = None) -> dict:
        """Subscribe ``url`` to event kinds (pathway.webhooks.EVENT_KINDS); deliveries are signed with ``secret``."""
        from pathway.services import webhooks

        with self.transaction() as conn:
            return webhooks.add(conn, url, events, secret, actor or self.actor, self.now())

    def webhooks(self) -> list[dict]:
        """Every webhook subscription (never its secret)."""
        from pathway.services import webhooks

        with self.transaction(write=False) as conn:
            return webhooks.listing(conn)

    def resume_webhook(self, webhook_id: int) -> dict:
        """Un-pause a subscriber that was paused after repeated failures; its waiting deliveries go out."""
        from pathway.services import webhooks

        with self.transaction() as conn:
            return webhooks.resume(conn, webhook_id, self.now())

    def deliveries(self, webhook_id: int | None = None) -> list[dict]:
        """The delivery log: every delivery with its status and attempts."""
        from pathway.services import webhooks

        with self.transaction(write=False) as conn:
            return webhooks.delivery_log(conn, webhook_id)

    def relay_outbox(self) -> dict:
        """Turn every pending outbox row into deliveries for its subscribers (batch by batch) and mark it sent."""
        from pathway.services import outbox

        total = {"relayed": 0, "deliveries": []}
        while True:
            with self.transaction() as conn:
                step = outbox.relay(conn, self.now())
            if not step["relayed"]:
                return total
            total["relayed"] += step["relayed"]
            total["deliveries"] += step["deliveries"]

    def queue_deliveries(self, policy=None) -> list[int]:
        """Due deliveries with no task on its way, marked queued: the caller sends their tasks after this."""
        from pathway.services import webhooks

        with self.transaction() as conn:
            return webhooks.queue(conn, self.now(), policy or webhooks.Policy.from_env())

    def send_deliveries(self, ids: list[int] | None = None, policy=None) -> dict:
        """Post due deliveries now (``ids``, or every due one); returns counts by outcome."""
        from pathway.services import webhooks

        policy = policy or webhooks.Policy.from_env()
        total = {"delivered": 0, "retry": 0, "failed": 0}
        while True:
            step = webhooks.send(self.db, self.now, policy, ids=ids)
            for k, v in step.items():
                total[k] += v
            if ids is not None or not any(step.values()):
                return total

    def dispatch_outbox(self, policy=None) -> dict:
        """Relay the outbox and send what is due, in this process (the eager form of pathway.dispatch_outbox)."""
        relayed = self.relay_outbox()
        return {"relayed": relayed["relayed"], "deliveries": len(relayed["deliveries"]),
                **self.send_deliveries(policy=policy)}

    def track_waits(self, as_at=None, *, team: str | None = None) -> dict:
        """Snapshot the waits of ``as_at`` (default today) and of missed days, and record today's breaches."""
        from pathway.services import waits

        day = days.parse_date(as_at, "as_at") if as_at is not None else None
        with self.transaction() as conn:
            return waits.track(conn, self.settings, self.now(), day, team)

    def wait_snapshots(self, day=None, *, team: str | None = None) -> list[dict]:
        """Stored snapshot rows (of one day, or all), by day, team, client group and stage."""
        import sqlalchemy as sa

        from pathway.store.tables import WaitSnapshot

        t = WaitSnapshot.__table__
        q = sa.select(t).order_by(t.c.day, t.c.team, t.c.client_group, t.c.stage)
        if day is not None:
            q = q.where(t.c.day == days.parse_date(day, "day"))
        if team is not None:
            q = q.where(t.c.team == team)
        with self.transaction(write=False) as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def breaches(self, *, team: str | None = None) -> list[dict]:
        """Recorded breaches, oldest first."""
        import sqlalchemy as sa

        from pathway.store.tables import Breach

        t = Breach.__table__
        q = sa.select(t).order_by(t.c.id)
        if team is not None:
            q = q.where(t.c.team == team)
        with self.transaction(write=False) as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # -- history in and national returns out (pathway/history.py, pathway/cld.py) --------------------

    def import_history(self, rows_or_path, mapping=None, *, actor: str | None = None, batch_size: int = 10_000,
                       progress=None, single_pass: bool = False) -> ImportSummary:
        """Backfill episodes from a case record system's extract (a CSV path or dict rows), all or nothing.

        Every row is checked first (codes, dates, order, the move legal from the stage at that time);
        a bad source raises one ValidationError listing every bad row by line, and nothing is written.
        ``mapping`` is an ImportMapping, a dict or a TOML file of the council's columns and codes.
        ``progress(phase, done, total)`` is called as the source is read. ``single_pass`` checks and
        writes in one pass inside the one transaction, rolled back if any row is bad (about twice as
        fast, still all or nothing). See pathway/services/history/.
        """
        from pathway.services import history

        return history.import_history(self.store, self.settings, rows_or_path, mapping, actor=actor or self.actor,
                                      now=self.now(), batch_size=batch_size, progress=progress,
                                      single_pass=single_pass)

    def export_cld(self, start, end, mapping=None) -> list[dict]:
        """The client-level data return's completed requests, assessments and reviews from ``start`` to ``end``
        (London dates, inclusive), one dict per event keyed by the return's field names (pathway.cld.COLUMNS).
        ``mapping`` is a CldMapping or a TOML file; by default config/cld-mapping.toml over the defaults in code."""
        from pathway.services import cld

        first, last = days.parse_date(start, "from"), days.parse_date(end, "to")
        if not isinstance(mapping, cld.CldMapping):
            mapping = cld.CldMapping.load(mapping)
        with self.transaction(write=False) as conn:
            return cld.cld_rows(conn, first, last, mapping)
