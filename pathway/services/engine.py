"""``pathway.Engine``: the library back ends embed; every method is one unit of work."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable

from pydantic import BaseModel

from pathway.domain import days
from pathway.domain.commands import Move, RecordContact
from pathway.domain.episode import EpisodeState
from pathway.domain.events import is_kind
from pathway.domain.stages import conversation
from pathway.services import duty, environment, episodes, kinds, outbox, staff, tray, waits, webhooks, workforce
from pathway.services.history import ImportSummary
from pathway.services.nudge import Nudge
from pathway.services.reports import REPORT_AHEAD, Reports
from pathway.settings import Settings, WebhookPolicy, load_settings
from pathway.store.db import unit_of_work
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
    external_ref: str | None = None
    # Queue listings only: how many of the team's workers could take this person now (present, skilled
    # for them, under cap); 0 is a gap the huddle board shows (pathway.services.workforce.takers).
    takers: int | None = None


class EpisodeCasework(EpisodeOut, tray.Casework):
    """An episode with its casework: last event, next action, flag, last discussion (a tray's or a listing's item)."""


# The fields an EpisodeOut copies from the episode's state (the days are worked out).
_STATE_OUT = tuple(k for k in EpisodeOut.model_fields if k in EpisodeState.__dataclass_fields__)
_FIELDS = {cls: tuple(cls.model_fields.items()) for cls in (EpisodeOut, EpisodeCasework)}


def constructed(cls: type[EpisodeOut], values: dict) -> EpisodeOut:
    """``cls(**values)`` for values the engine has just read from its own store or worked out (of their
    fields' types already): what pydantic's ``model_construct`` makes (no validation, the fields not
    given at their defaults), without its walk over every field, a tenth of its time. A page of the
    listing builds 50 of these, and every move one."""
    made = cls.__new__(cls)
    # In the fields' order, as validation would give them (JSON keys come out in this order).
    object.__setattr__(made, "__dict__", {k: values[k] if k in values else f.default for k, f in _FIELDS[cls]})
    object.__setattr__(made, "__pydantic_fields_set__", set(values))
    object.__setattr__(made, "__pydantic_extra__", None)
    object.__setattr__(made, "__pydantic_private__", None)
    return made


class Engine:
    """The Three Conversations engine on one database.

    ``Engine()`` uses the embedded default (SQLite in ./pathway.db) or PATHWAY_DATABASE_URL;
    ``Engine("postgresql+psycopg://…")`` names a database. ``migrate``: True brings the schema up to
    date on first use, False leaves it, None requires it (the command line's way: an SQLite file that
    is new or already the engine's is brought up to date, any other database without the schema is a
    SetupError and nothing is created; see pathway.services.environment).
    """

    def __init__(self, url: str | None = None, *, settings: Settings | None = None,
                 actor: str = "library", migrate: bool | None = True,
                 clock: Callable[[], dt.datetime] = days.now):
        overrides = {"database_url": url} if url else {}
        self.settings = settings.model_copy(update=overrides) if settings else load_settings(**overrides)
        self.db = environment.open_database(self.settings.database_url, self.settings.database_pool_size)
        self.store = Store(self.db)  # the dialect is read here, once
        self.actor = actor
        self.clock = clock
        self.reports = Reports(self)  # waits, allocation, trends, … (pathway/services/reports.py)
        self.workforce = workforce.Workforce(self)  # skills, absences, supervision (pathway/services/workforce.py)
        self.nudge = Nudge(self.settings)  # after a change commits: relay the outbox now (pathway/services/nudge.py)
        environment.prepare_schema(self.db, migrate)

    # -- plumbing ---------------------------------------------------------------------------------

    def transaction(self, write: bool = True):
        return unit_of_work(self.db, write=write)

    def now(self) -> dt.datetime:
        return self.clock()

    def episode_out(self, state: EpisodeState, as_at: dt.datetime | None = None, modes=None) -> EpisodeOut:
        """The episode as back ends see it, its days counted at ``as_at`` (now) in ``modes`` (the settings'
        day modes: a list of episodes works them out once)."""
        modes = modes or self.settings.day_modes
        values = {k: getattr(state, k) for k in _STATE_OUT}
        values["days_waiting"] = state.days_waiting(as_at or self.now(), modes)
        values["days_to_allocation"] = state.days_to_allocation(modes)
        return constructed(EpisodeOut, values)

    def _on_horizon(self, *dates: tuple[dt.date | None, str]) -> None:
        """Refuse a date (ValidationError naming ``field``) outside the ones reports and returns cover."""
        latest = days.london_date(self.now()) + REPORT_AHEAD
        for day, field in dates:
            if day is not None:
                self.settings.security.horizon.check_day(day, field, latest)

    def dispose(self) -> None:
        self.db.dispose()

    # -- teams and workers ------------------------------------------------------------------------

    def create_team(self, key: str, name: str, *, actor: str | None = None) -> dict:
        with self.store.unit() as uow:
            return episodes.create_team(uow, key, name, actor or self.actor, self.now())

    def create_worker(self, key: str, name: str, team: str, caseload_cap: int | None = None, *,
                      actor: str | None = None) -> dict:
        with self.store.unit() as uow:
            return episodes.create_worker(uow, key, name, team, caseload_cap, actor or self.actor, self.now())

    def worker(self, key: str) -> dict:
        """The worker's record (key, name, team, caseload_cap, …); NotFound naming the worker."""
        with self.store.unit(write=False) as uow:
            return episodes.get_worker(uow, key)

    def staff(self, team: str | None = None) -> list[dict]:
        """Every worker (of ``team``) with their caseload and cap, active or not (pathway.services.staff)."""
        with self.store.unit(write=False) as uow:
            return staff.staff(uow, self.settings, team)

    def update_worker(self, key: str, *, caseload_cap: int | None = None, default_cap: bool = False,
                      team: str | None = None, active: bool | None = None, actor: str | None = None) -> dict:
        """Change a worker's cap (or back to the default), team or whether they are active; who and when are
        recorded. Returns the worker as :meth:`staff` shows them."""
        with self.store.unit() as uow:
            return staff.update_worker(uow, self.settings, key, actor=actor or self.actor, now=self.now(),
                                       caseload_cap=caseload_cap, default_cap=default_cap, team=team,
                                       active=active)

    def teams(self) -> list[dict]:
        """Every team, by key."""
        with self.store.unit(write=False) as uow:
            return uow.episodes.teams()

    def workers(self, team: str | None = None) -> list[dict]:
        """Every worker (of ``team``, when given), by team and key."""
        with self.store.unit(write=False) as uow:
            return uow.episodes.workers(team)

    # -- episodes ---------------------------------------------------------------------------------

    def record_contact(self, person_ref: str, client_group: str, team: str, *, actor: str | None = None,
                       **fields) -> EpisodeOut:
        """A new contact: creates the person's episode at stage ``contact``. ``fields`` are the rest of a
        :class:`pathway.domain.commands.RecordContact` (occurred_at, priority, route, idempotency_key)."""
        return self.contact(RecordContact(person_ref=person_ref, client_group=client_group, team=team, **fields),
                            actor=actor)

    def contact(self, command: RecordContact, *, actor: str | None = None) -> EpisodeOut:
        """Record one contact command (the write every interface's contact ends in)."""
        with self.store.unit() as uow:
            state = episodes.record_contact(uow, self.settings, command, actor=actor or self.actor, now=self.now())
        self.nudge()
        return self.episode_out(state)

    def fire(self, episode_id: int, trigger: str, *, actor: str | None = None, **fields) -> EpisodeOut:
        """Move an episode on: ``trigger`` is one of pathway.domain.stages.TRIGGERS, or records an event that
        keeps the stage (pathway.domain.events.KINDS: a note, a flag, a conversation, …); ``fields`` are the
        rest of a :class:`pathway.domain.commands.Move` (worker, outcome, keep_worker, to, note,
        occurred_at, idempotency_key, expected_version; a manager's allocation: override, weight and
        weight_reason; an event kind's own fields)."""
        return self.move(episode_id, Move(trigger=trigger, **fields), actor=actor)

    def move(self, episode_id: int, command: Move, *, actor: str | None = None) -> EpisodeOut:
        """Apply one move command to the episode (the write every interface's move ends in)."""
        if is_kind(command.trigger):  # an event that keeps the stage: its row, its event and its Progress at once
            with self.store.unit() as uow:
                state = kinds.record(uow, self.settings, episode_id, command, actor=actor or self.actor,
                                     now=self.now())
            self.nudge()
            return self.episode_out(state)
        # An allocation locks its worker until the move commits.
        with self.store.move_unit(locks=command.trigger == "allocate") as uow:
            state = episodes.move(uow, self.settings, episode_id, command, actor=actor or self.actor, now=self.now())
        self.nudge()
        return self.episode_out(state)

    def get(self, episode_id: int) -> EpisodeOut:
        with self.store.unit(write=False) as uow:
            return self.episode_out(episodes.load_state(uow, episode_id))

    def history(self, episode_id: int) -> list[dict]:
        """The episode's append-only event log, oldest first."""
        with self.store.unit(write=False) as uow:
            return episodes.history(uow, episode_id)

    def replay(self, episode_id: int) -> EpisodeOut:
        """The episode rebuilt from its events alone (it equals ``get``: the log is the truth)."""
        with self.store.unit(write=False) as uow:
            return self.episode_out(episodes.replay(uow, episode_id))

    def progress(self, episode_id: int, *, replayed: bool = False) -> dict:
        """The episode's open flag, open next action and last discussion (pathway.domain.events.Progress);
        ``replayed``: rebuilt from its log alone (it equals the stored one)."""
        with self.store.unit(write=False) as uow:
            found = kinds.replay_progress(uow, episode_id) if replayed else kinds.progress(uow, episode_id)
        return dataclasses.asdict(found)

    def allocations(self, episode_id: int) -> list[dict]:
        """Every wait of the episode that ended in an allocation: conversation, start, allocation, days."""
        modes = self.settings.day_modes
        out = []
        for ev in self.history(episode_id):
            if ev["first_allocation"]:
                conv = conversation(ev["to_stage"])
                out.append({"conversation": conv, "wait_from": ev["wait_from"],
                            "allocated_at": ev["occurred_at"], "worker": ev["worker"],
                            "allocation": ev["allocation"],  # days in the mode of the queue the wait was in
                            "days": days.days_from(ev["wait_from"], ev["occurred_at"], modes.of(f"{conv}_waiting"))})
        return out

    # -- duty desk: queues and self-allocation (pathway/services/duty.py) ----------------------------

    def queue(self, team: str) -> list[EpisodeOut]:
        """The team's waiting episodes in claim order (pathway.domain.duty.claim_key)."""
        with self.store.unit(write=False) as uow:
            states = duty.queue(uow, team)
            takers = workforce.takers(uow, self.settings, team, states, self.now())
        now, modes = self.now(), self.settings.day_modes
        return [self.episode_out(state, now, modes).model_copy(update={"takers": takers[state.id]})
                for state in states]

    def release_all(self, worker: str, reason: str, *, actor: str | None = None) -> list[EpisodeOut]:
        """Every active episode of ``worker`` back to its queue in one transaction (a ``release`` event
        each, with ``reason``; wait clocks not reset), e.g. when they go off sick."""
        with self.store.unit() as uow:
            states = workforce.release_all(uow, worker, reason, actor or self.actor, self.now())
        self.nudge()
        return [self.episode_out(s) for s in states]

    def claim_next(self, team: str, worker: str, *, actor: str | None = None) -> EpisodeOut | None:
        """Self-allocation: ``worker`` takes the first claimable episode of their team's queue.

        None when nothing waits; CaseloadFull when the worker is at cap (a crisis may still be
        taken over cap when ``caseload.crisis_over_cap`` is set, the default)."""
        state = duty.claim_next(self.store, self.settings, team, worker, actor=actor or self.actor, now=self.now())
        if state is None:
            return None
        self.nudge()
        return self.episode_out(state)

    def claim(self, episode_id: int, worker: str, *, actor: str | None = None) -> EpisodeOut:
        """Self-allocation of one waiting episode; Conflict if someone has already taken it."""
        with self.store.unit() as uow:
            state = duty.claim(uow, self.settings, episode_id, worker, actor=actor or self.actor, now=self.now())
        self.nudge()
        return self.episode_out(state)

    def front_door(self, team: str) -> list[EpisodeOut]:
        """The team's contacts waiting for a decision (resolve, refer or crisis): crises first, then by arrival."""
        with self.store.unit(write=False) as uow:
            states = tray.front_door(uow, team)
        now, modes = self.now(), self.settings.day_modes
        return [self.episode_out(state, now, modes) for state in states]

    def tray(self, worker: str) -> list[EpisodeCasework]:
        """The worker's active episodes, oldest allocation first, with their casework (pathway/services/tray.py)."""
        with self.store.unit(write=False) as uow:
            rows = tray.tray(uow, worker)
        now, modes = self.now(), self.settings.day_modes
        return [self._casework(*row, now, modes) for row in rows]

    def episodes(self, **filters) -> dict:
        """A page of episodes by id: ``{"items": [...], "next_cursor": ...}``. Filters: team, worker, stage,
        client_group, flagged, stale_days, person_ref, external_ref; then cursor and limit."""
        ask = tray.check_listing(self.settings, self.now(), **filters)
        with self.store.unit(write=False) as uow:
            rows, next_cursor = tray.listing(uow, ask)
        now, modes = self.now(), self.settings.day_modes
        return {"items": [self._casework(*row, now, modes) for row in rows], "next_cursor": next_cursor}

    def _casework(self, state, last, progress, now: dt.datetime, modes) -> EpisodeCasework:
        # Built from a row the store just read: constructed, not validated again (a page has 50 of them).
        values = {k: getattr(state, k) for k in _STATE_OUT}
        values["days_waiting"] = state.days_waiting(now, modes)
        values["days_to_allocation"] = state.days_to_allocation(modes)
        values.update(tray.casework(state, last, progress, self.settings, now))
        return constructed(EpisodeCasework, values)

    def caseloads(self, team: str | None = None) -> list[dict]:
        """Each worker's caseload (episodes in ``*_active`` stages) against their cap."""
        with self.store.unit(write=False) as uow:
            return duty.caseloads(uow, self.settings, team, days.london_date(self.now()))

    # -- background work: outbox, webhooks, wait tracking (pathway/services/outbox.py, webhooks.py, waits.py) -

    def add_webhook(self, url: str, events, secret: str | None = None, *, teams=None, actor: str | None = None) -> dict:
        """Subscribe ``url`` to event kinds (pathway.services.webhooks.EVENT_KINDS), of ``teams`` only when
        given; deliveries are signed with ``secret`` (whsec_…), or with one the engine makes and returns
        here once as ``secret``."""
        with self.store.unit() as uow:
            return webhooks.add(uow, url, events, secret, actor or self.actor, self.now(), self.settings.webhooks,
                                teams=teams)

    def webhooks(self) -> list[dict]:
        """Every webhook subscription (never its secret; URLs masked)."""
        with self.store.unit(write=False) as uow:
            return webhooks.listing(uow)

    def resume_webhook(self, webhook_id: int) -> dict:
        """Un-pause a subscriber that was paused after repeated failures; its waiting deliveries go out."""
        with self.store.unit() as uow:
            return webhooks.resume(uow, webhook_id, self.now())

    def rotate_webhook_secret(self, webhook_id: int, secret: str | None = None, *, overlap: float | None = None,
                              actor: str | None = None) -> dict:
        """A new signing secret (returned once as ``secret``); the old one also signs for ``overlap`` seconds
        (default ``webhooks.rotation_overlap``), so the receiver can switch over."""
        with self.store.unit() as uow:
            return webhooks.rotate(uow, webhook_id, secret, actor or self.actor, self.now(), self.settings.webhooks,
                                   overlap)

    def deliveries(self, webhook_id: int | None = None, *, status: str | None = None,
                   limit: int | None = None) -> list[dict]:
        """The delivery log: deliveries (the latest ``limit``) with their status and attempts."""
        with self.store.unit(write=False) as uow:
            return webhooks.delivery_log(uow, webhook_id, status, limit)

    def redeliver(self, webhook_id: int, delivery_id: int, *, actor: str | None = None) -> dict:
        """Send one delivery again now, whatever its status."""
        with self.store.unit() as uow:
            out = webhooks.redeliver(uow, webhook_id, delivery_id, actor or self.actor, self.now())
        self.nudge()
        return out

    def events(self, after: str | None = None, *, limit: int = 100, kinds: list[str] | None = None,
               team: str | None = None) -> dict:
        """The event feed: ``{items, next_cursor}``, every relayed event after the cursor in commit order."""
        with self.store.unit(write=False) as uow:
            return outbox.feed(uow, after, limit, kinds, team)

    def relay_outbox(self) -> dict:
        """Give every pending outbox row its place in the feed and its deliveries (batch by batch)."""
        total = {"relayed": 0, "deliveries": []}
        while True:
            with self.store.unit() as uow:
                step = outbox.relay(uow, self.now())
            if not step["relayed"]:
                return total
            total["relayed"] += step["relayed"]
            total["deliveries"] += step["deliveries"]

    def send_deliveries(self, ids: list[int] | None = None, policy: WebhookPolicy | None = None, *,
                        budget: float | None = None) -> dict:
        """Post due deliveries now, batch by batch (``ids``, or every due one); returns counts by outcome,
        and ``more: True`` if it stopped after ``budget`` seconds with deliveries still going out."""
        policy = policy or self.settings.webhooks
        total = {"delivered": 0, "retry": 0, "failed": 0}
        stop = None if budget is None else time.monotonic() + budget
        while True:
            step = webhooks.send(self.store, self.now, policy, ids=ids)
            for k, v in step.items():
                total[k] += v
            if not any(step.values()):
                return total
            if stop is not None and time.monotonic() > stop:
                return total | {"more": True}

    def dispatch_outbox(self, policy: WebhookPolicy | None = None, *,
                        send: Callable[[], object] | None = None) -> dict:
        """Relay the outbox, then deliver what is due: posted in this process, or, given ``send``, by up to
        ``webhooks.senders`` calls of it (a delivery task each, which sends batch after batch) once the
        relay has committed, so no task can run before the rows it needs exist."""
        policy = policy or self.settings.webhooks
        self.nudge.clear()  # before reading the outbox: a change committed from now on nudges again
        relayed = self.relay_outbox()
        done = {"relayed": relayed["relayed"], "deliveries": len(relayed["deliveries"])}
        if send is None:
            return done | self.send_deliveries(policy=policy)
        with self.store.unit(write=False) as uow:
            due = webhooks.due(uow, self.now())
        senders = min(policy.senders, -(-due // policy.batch))
        for _ in range(senders):
            send()
        return done | {"due": due, "senders": senders}

    def track_waits(self, as_at=None, *, team: str | None = None) -> dict:
        """Snapshot the waits of ``as_at`` (default today) and of missed days, and record today's breaches."""
        day = days.parse_date(as_at, "as_at") if as_at is not None else None
        self._on_horizon((day, "as_at"))
        with self.store.unit() as uow:
            result = waits.track(uow, self.settings, self.now(), day, team)
        self.nudge()
        return result

    def wait_snapshots(self, day=None, *, team: str | None = None) -> list[dict]:
        """Stored snapshot rows (of one day, or all), by day, team, client group and stage."""
        day = days.parse_date(day, "day") if day is not None else None
        with self.store.unit(write=False) as uow:
            return uow.snapshots.listing(day, team)

    def breaches(self, *, team: str | None = None) -> list[dict]:
        """Recorded breaches, oldest first."""
        with self.store.unit(write=False) as uow:
            return uow.snapshots.breaches(team)

    # -- history in and national returns out (pathway/services/history/, pathway/services/cld.py) -----

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
        (London dates, inclusive), one dict per event keyed by the return's field names (pathway.services.cld.COLUMNS).
        ``mapping`` is a CldMapping or a TOML file; by default config/cld-mapping.toml over the defaults in code."""
        from pathway.services import cld

        first, last = days.parse_date(start, "from"), days.parse_date(end, "to")
        self._on_horizon((first, "from"), (last, "to"))
        if not isinstance(mapping, cld.CldMapping):
            mapping = cld.CldMapping.load(mapping)
        with self.store.unit(write=False) as uow:
            return cld.cld_rows(uow, first, last, mapping)

    # -- the scrutiny panel: conversations, audits, outreach, the pack (pathway/services/scrutiny.py, …) ---

    def record_conversation(self, episode_id: int, status: str, *, mode: str | None = None, at=None,
                            minutes: int | None = None, occurred_at=None, note: str | None = None,
                            actor: str | None = None, **fields) -> EpisodeOut:
        """A conversation with the person: booked (for ``at``, in a ``mode``), held (``mode``, ``minutes``),
        cancelled or not_attended; the episode's stage stays as it is. The same event as
        ``fire(episode_id, "conversation", status=…)``; ``fields`` are the rest of a Move (idempotency_key,
        expected_version)."""
        return self.fire(episode_id, "conversation", actor=actor, status=status, mode=mode, at=at, minutes=minutes,
                         occurred_at=occurred_at, note=note, **fields)

    def audit_sample(self, start, end, rate, *, seed: int, stratify=None, actor: str | None = None) -> dict:
        """A reproducible stratified sample of the episodes active or closed from ``start`` to ``end``."""
        from pathway.services import audits

        with self.store.unit() as uow:
            return audits.sample(uow, start, end, rate, stratify, seed, actor=actor or self.actor, now=self.now())

    def record_audit(self, episode_id: int, rating: str, *, auditor: str | None = None, audited_on=None,
                     themes=None, reason: str | None = None, team: str | None = None,
                     actor: str | None = None) -> dict:
        """A case-file audit of one episode (outside every sample it needs a ``reason``)."""
        from pathway.services import audits

        with self.store.unit() as uow:
            return audits.record(uow, episode_id, rating, auditor=auditor or actor or self.actor,
                                 audited_on=audited_on, themes=themes, reason=reason, team=team,
                                 actor=actor or self.actor, now=self.now())

    def audit_log(self, episode_id: int | None = None) -> list[dict]:
        """Every audit recorded (of one episode), oldest first."""
        with self.store.unit(write=False) as uow:
            return uow.audits.audits(episode_id)

    def import_outreach(self, source, *, actor: str | None = None, only_team: str | None = None):
        """Welfare checks made, from a CSV path, CSV text or dict rows, all or nothing
        (pathway.services.outreach): attached to the person's open episode, or a new contact."""
        from pathway.services import outreach

        with self.store.unit() as uow:
            summary = outreach.import_checks(uow, self.settings, source, actor=actor or self.actor, now=self.now(),
                                             only_team=only_team)
        self.nudge()
        return summary
