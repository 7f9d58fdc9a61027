"""The rules of an imported history: each row's codes and values, then each episode's rows in order, folded
through the pathway so that every move is one the pathway allows from the stage at that time."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from pathway.domain import days
from pathway.domain.checks import NOTE_LENGTH, REF_PATTERN, Horizon, RefPolicy, unknown_team, unknown_worker
from pathway.domain.episode import EpisodeState, Fact, apply, fold, start
from pathway.domain.stages import TRIGGERS
from pathway.domain.vocabulary import PRIORITIES
from pathway.errors import PathwayError
from pathway.services.history.parse import CODED, COLUMNS, Row
from pathway.settings import Security

ALL_TRIGGERS = ("record_contact",) + TRIGGERS
_TRIGGERS = frozenset(ALL_TRIGGERS)
_REF = REF_PATTERN.match
# What the contact (seq 1) must give, and later rows may only repeat.
CONTACT = ("person_ref", "client_group", "team")
ALLOCATIONS = ("self", "manager")
# The longest value of each column (any column not named: 64 characters, a code's or a reference's length).
LONGEST = {"note": NOTE_LENGTH, "actor": 200, "occurred_at": 64, "to": 2}
# Each column's longest value, in the order of a row's values (64 unless LONGEST says otherwise).
_LIMITS = tuple(LONGEST.get(field, 64) for field in COLUMNS)


class RowRefused(Exception):
    """A row the import cannot take, and why (listed against its line)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


Listed = Callable[[int, str], None]  # (line, reason): a bad row, for the import's report


@dataclasses.dataclass(slots=True)
class Folded:
    """One episode's rows after checking: the moves to write and the rows already stored."""

    ok: bool = True
    moves: list[tuple[EpisodeState | None, EpisodeState, Fact, Row]] = dataclasses.field(default_factory=list)
    unchanged: int = 0

    @property
    def state(self) -> EpisodeState:
        return self.moves[-1][1]


class Rules:
    """The import's rules, over the codes this database and configuration know."""

    def __init__(self, client_groups, outcomes, teams: set[str], workers: dict[str, str], now: dt.datetime,
                 horizon: Horizon | None = None, ref_policy: RefPolicy | None = None):
        self.client_groups, self.outcomes = tuple(client_groups), tuple(outcomes)
        self._groups, self._outcomes = frozenset(client_groups), frozenset(outcomes)
        self.teams, self.workers, self.now = teams, workers, now
        self.horizon = horizon or Security().horizon
        self.ref_policy = ref_policy or Security().ref_policy
        self.checked_refs: set[str] = set()  # people's references already found good (one person has many rows)
        # The horizon's ends as instants, worked out once: a row inside them needs no more asking.
        self._earliest = dt.datetime.combine(self.horizon.earliest, dt.time(), tzinfo=days.LONDON)
        self._latest = now + self.horizon.slack

    # -- one row on its own

    def check_row(self, row: Row) -> None:
        """Every value of the row on its own (codes, references, lengths, not in the future)."""
        problems = list(row.problems)
        for field, value, longest in zip(COLUMNS, row.given, _LIMITS, strict=True):
            if value.__class__ is str and len(value) > longest:
                problems.append(f"{field} is longer than {longest} characters")
        if row.ref is None:
            problems.append("episode_ref is blank")
        elif not _REF(row.ref):
            problems.append(f"episode_ref {row.ref!r} must be 1-64 characters: letters, digits and . _ : / -")
        if row.seq < 1:
            problems.append(f"seq {row.seq} must be 1 or more (1 is the episode's first row)")
        if row.trigger is None:
            problems.append("trigger is blank")
        elif row.trigger not in _TRIGGERS:
            problems.append(self.unknown(row, "trigger", ALL_TRIGGERS))
        if row.at is not None and not self._earliest <= row.at <= self._latest:
            problems.append(self.horizon.problem(row.at, self.now, "occurred_at"))
        if row.person_ref is not None and row.person_ref not in self.checked_refs:
            refused = self.ref_policy.problem(row.person_ref)
            if refused is None:
                if len(self.checked_refs) >= 100_000:
                    self.checked_refs.clear()
                self.checked_refs.add(row.person_ref)
            else:
                problems.append(refused)
        problems += self.codes(row)
        if problems:
            raise RowRefused("; ".join(problems))

    def codes(self, row: Row) -> list[str]:
        problems = []
        if row.client_group is not None and row.client_group not in self._groups:
            problems.append(self.unknown(row, "client_group", self.client_groups))
        if row.team is not None and row.team not in self.teams:
            problems.append(unknown_team(row.team, self.teams))
        if row.worker is not None and row.worker not in self.workers:
            problems.append(unknown_worker(row.worker))
        if row.outcome is not None and row.outcome not in self._outcomes:
            problems.append(self.unknown(row, "outcome", self.outcomes))
        if row.priority is not None and row.priority not in PRIORITIES:
            problems.append(self.unknown(row, "priority", PRIORITIES))
        if row.allocation is not None and row.allocation not in ALLOCATIONS:
            problems.append(f"allocation {row.allocation!r} must be 'self' or 'manager'")
        return problems

    @staticmethod
    def unknown(row: Row, field: str, ours) -> str:
        value = row.given[COLUMNS.index(field)]
        hint = (f"add it to [codes.{field}] in the mapping file or use one of: " if field in CODED
                else "use one of: ")
        return f"unknown {field.replace('_', ' ')} {value!r}; {hint}{', '.join(ours)}"

    # -- an episode's rows together

    def fold(self, rows: list[Row], stored, episode_id: int | None, listed: Listed,
             refused: set[int] | frozenset[int] = frozenset()) -> Folded:
        """The episode's rows after what is ``stored`` of it (None for a new episode), folded through the
        pathway; every bad row is ``listed``. The rows on ``refused`` lines (already listed for a value of
        their own) take their place in the order checks but are not moved; the fold's moves stop at the
        first bad one (the stage after it is not known), its order checks go on to the last row."""
        out = Folded()
        state = None
        try:
            self.starts_well(rows[0], stored)
        except RowRefused as refusal:
            listed(rows[0].line, refusal.reason)
            out.ok = False
        prev = None
        for row in rows:
            if prev is not None and row.seq != prev.seq + 1:
                listed(row.line, out_of_turn(prev, row))
                out.ok = False
                if row.seq < prev.seq:
                    continue
            prev = row
            if row.line in refused:
                out.ok = False
                continue
            try:
                if stored is not None and row.seq <= stored.version:
                    same_as_stored(row, stored.events[row.seq - 1])
                    out.unchanged += 1
                elif out.ok:
                    if state is None and stored is not None:
                        state = replay(episode_id, stored.events)
                    before, state, fact = self.move(row, state, rows[0], episode_id)
                    out.moves.append((before, state, fact, row))
            except RowRefused as refusal:
                listed(row.line, refusal.reason)
                out.ok = False
        return out

    @staticmethod
    def starts_well(first: Row, stored) -> None:
        if stored is None:
            if first.seq != 1:
                raise RowRefused(f"episode {first.ref} starts at seq {first.seq}: a new episode's rows start "
                                 "at seq 1 (its record_contact)")
        elif first.seq > stored.version + 1:
            raise RowRefused(f"episode {first.ref} has {stored.version} events stored; the file's rows "
                             f"for it start at seq {first.seq} (seq {stored.version + 1} is missing)")

    def move(self, row: Row, state: EpisodeState | None, first: Row, episode_id: int | None):
        """The row as a move of the episode: (state before, state after, fact); RowRefused if the
        pathway does not allow it."""
        if row.worker is not None and row.trigger != "allocate":
            raise RowRefused(f"worker is given only with allocate, not with {row.trigger}")
        if row.trigger == "record_contact":
            return contact(row, state, episode_id)
        if state is None:
            raise RowRefused(f"episode {row.ref}'s first row (seq 1) must be its record_contact, not {row.trigger}")
        self.continues(row, state, first)
        data: dict[str, Any] = {}
        if row.keep_worker:
            data["keep_worker"] = True
        if row.to is not None:
            data["to"] = row.to
        fact = Fact(row.trigger, row.at, row.worker, row.outcome, data)
        try:
            return state, apply(state, fact), fact
        except PathwayError as exc:
            raise RowRefused(exc.detail) from None

    def continues(self, row: Row, state: EpisodeState, first: Row) -> None:
        """A later row repeats the contact's values or leaves them blank, and keeps to time and team."""
        for column in CONTACT if row.person_ref or row.client_group or row.team else ():
            value = getattr(row, column)
            if value is not None and value != getattr(state, column):
                raise RowRefused(f"{column} {value!r} differs from the episode's {getattr(state, column)!r} "
                                 f"(line {first.line}); give it on the first row, and blank or the same on later rows")
        if row.at < state.stage_at:
            raise RowRefused(f"occurred_at {row.at.isoformat()} is before the episode's previous event "
                             f"({state.stage_at.isoformat()}): events out of order")
        if row.worker is not None and self.workers[row.worker] != state.team:
            raise RowRefused(f"worker {row.worker!r} is in team {self.workers[row.worker]!r}, not the episode's "
                             f"team {state.team!r}")


def contact(row: Row, state: EpisodeState | None, episode_id: int | None):
    """The episode a ``record_contact`` row starts: (None, state, fact)."""
    if state is not None:
        raise RowRefused(f"record_contact on seq {row.seq}: only an episode's first row (seq 1) records the "
                         "contact; a new contact after closure is a new episode_ref")
    missing = [c for c in CONTACT if getattr(row, c) is None]
    if missing:
        raise RowRefused(f"the contact (seq 1) needs {', '.join(missing)}")
    fact = Fact("record_contact", row.at, data={
        "person_ref": row.person_ref, "client_group": row.client_group, "team": row.team,
        "priority": row.priority or "normal", "route": row.route})
    return None, start(episode_id, fact), fact


def out_of_turn(prev: Row, row: Row) -> str:
    """Why ``row`` cannot follow ``prev`` (its seq is not the next one)."""
    if row.seq == prev.seq:
        return f"duplicate row: episode {row.ref} seq {row.seq} is also on line {prev.line}"
    if row.seq < prev.seq:
        return (f"out of order: episode {row.ref} seq {row.seq} comes after seq {prev.seq} "
                f"(line {prev.line}); sort each episode's rows by seq")
    return f"episode {row.ref} seq {row.seq} follows seq {prev.seq}: seq {prev.seq + 1} is missing (or out of order)"


def replay(episode_id: int, events: list) -> EpisodeState:
    """A stored episode's state, folded from its stored log."""
    return fold(episode_id, [Fact(e["trigger"], e["occurred_at"], e["worker"], e["outcome"], e["data"])
                             for e in events])


def same_as_stored(row: Row, event) -> None:
    """Nothing, when ``row`` is the stored ``event`` it claims to be; else RowRefused saying how they differ."""
    data = event["data"] or {}
    mine = {"trigger": row.trigger, "occurred_at": row.at, "worker": row.worker, "outcome": row.outcome,
            "note": row.note, "keep_worker": row.keep_worker, "to": row.to}
    theirs = {"trigger": event["trigger"], "occurred_at": event["occurred_at"], "worker": event["worker"],
              "outcome": event["outcome"], "note": event["note"] or None,
              "keep_worker": bool(data.get("keep_worker")), "to": data.get("to")}
    if row.trigger == "record_contact":
        mine.update(person_ref=row.person_ref, client_group=row.client_group, team=row.team,
                    priority=row.priority or "normal", route=row.route)
        theirs.update({k: data.get(k) for k in ("person_ref", "client_group", "team", "priority", "route")})
    diffs = [f"{k} is {_show(theirs[k])} stored, {_show(mine[k])} in the file" for k in mine if mine[k] != theirs[k]]
    if diffs:
        raise RowRefused(f"conflicts with the stored event seq {row.seq} of episode {row.ref}: {'; '.join(diffs)}")


def _show(value) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else repr(value)
