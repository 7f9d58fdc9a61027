"""History in: an all-or-nothing backfill of episodes and their events from a case record system's extract.

The extract is a CSV file (or an iterable of dict rows) with one row per event, the rows of an
episode together and in ``seq`` order. Every row is folded through the same rules as a live change
(:func:`pathway.episode.start` / :func:`pathway.episode.apply`), so an imported history is one the
pathway could have produced live. The whole source is checked first, with every bad row listed by
line; only a clean source is then read again and written, in one transaction, in batches (COPY on
PostgreSQL, executemany on SQLite). Backfilled events put nothing in the outbox: years of history would flood
webhook subscribers with changes that happened long ago.

Re-importing is safe: an episode is known by the back end's ``episode_ref`` (table ``episode_ref``),
rows already stored are compared and skipped, later rows of an open episode are appended, and a row
that contradicts a stored event is an error.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import operator
import os
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain import days
from pathway.domain.checks import FUTURE_SLACK, REF_PATTERN
from pathway.domain.episode import EpisodeState, Fact, apply, fold, start
from pathway.domain.stages import TRIGGERS
from pathway.errors import Conflict, PathwayError, ValidationError
from pathway.settings import PRIORITIES, Settings
from pathway.store.db import is_sqlite
from pathway.store.episodes import event_row, state_values
from pathway.store.tables import EPISODE, EPISODE_REF, EVENT, TEAM, WORKER

# The CSV layout, in our words. A council's mapping file may rename any of them.
COLUMNS = ("episode_ref", "seq", "person_ref", "client_group", "team", "trigger", "occurred_at", "worker",
           "outcome", "priority", "route", "keep_worker", "to", "note", "actor", "allocation")
REQUIRED = ("episode_ref", "seq", "person_ref", "client_group", "team", "trigger", "occurred_at")
# Fields whose values a mapping may translate from the council's codes to ours.
CODED = ("client_group", "outcome", "trigger", "priority", "route", "team", "worker")
MAX_LISTED = 100  # bad rows listed in a report; the rest are counted
TRUE = frozenset({"1", "true", "yes", "y", "t"})
FALSE = frozenset({"", "0", "false", "no", "n", "f"})
_REF = REF_PATTERN.match
_TRIGGERS = frozenset(("record_contact",) + TRIGGERS)
NOT_CSV = {b"PK\x03\x04": "a zip archive or an Excel .xlsx workbook",
           b"\xd0\xcf\x11\xe0": "an Excel .xls workbook", b"%PDF": "a PDF document"}


# -- the mapping file ------------------------------------------------------------------------------

@dataclasses.dataclass
class ImportMapping:
    """How a council's extract says things: its column headings, its codes, its date format.

    ``columns`` maps our column name to the council's heading; ``codes`` maps, per field, the
    council's code to ours (codes not in the map must already be ours); ``date_format`` is a
    ``strptime`` format for ``occurred_at`` (times without an offset are London time).
    """

    columns: dict[str, str] = dataclasses.field(default_factory=dict)
    codes: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    date_format: str | None = None

    @classmethod
    def load(cls, path: str | os.PathLike) -> ImportMapping:
        return cls.from_dict(read_toml(path, "mapping file"), source=str(path))

    @classmethod
    def from_dict(cls, data: dict, source: str = "mapping") -> ImportMapping:
        unknown = set(data) - {"columns", "codes", "dates"}
        if unknown:
            raise ValidationError(f"{source}: unknown sections {sorted(unknown)}; sections are [columns], "
                                  "[codes.<field>] and [dates]", field="mapping")
        columns = {str(k): str(v) for k, v in data.get("columns", {}).items()}
        bad = sorted(set(columns) - set(COLUMNS))
        if bad:
            raise ValidationError(f"{source}: [columns] names {bad}, which are not our columns; "
                                  f"ours are: {', '.join(COLUMNS)}", field="mapping")
        codes = {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.get("codes", {}).items()}
        bad = sorted(set(codes) - set(CODED))
        if bad:
            raise ValidationError(f"{source}: [codes] has {bad}; codes can be mapped for: {', '.join(CODED)}",
                                  field="mapping")
        return cls(columns=columns, codes=codes, date_format=data.get("dates", {}).get("format"))

    @classmethod
    def coerce(cls, value: ImportMapping | dict | str | os.PathLike | None) -> ImportMapping:
        if value is None:
            return cls()
        if isinstance(value, ImportMapping):
            return value
        if isinstance(value, dict):
            return cls.from_dict(value)
        return cls.load(value)

    def heading(self, column: str) -> str:
        return self.columns.get(column, column)


def read_toml(path: str | os.PathLike, what: str) -> dict:
    """A mapping file's tables, or a ValidationError naming the file and what is wrong with it."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ValidationError(f"{what} {str(path)!r} not found", field="mapping") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{what} {str(path)!r} is not valid TOML: {exc}", field="mapping") from None


# -- the summary -----------------------------------------------------------------------------------

@dataclasses.dataclass
class ImportSummary:
    """What an import found and wrote."""

    rows: int = 0  # data rows read
    episodes: int = 0  # episodes in the source
    events: int = 0  # events in the source
    new_episodes: int = 0  # episodes created
    new_events: int = 0  # events written (0 when the same source is imported again)
    unchanged_events: int = 0  # rows already stored, identical: skipped
    extended_episodes: int = 0  # stored episodes that got later events
    by_client_group: dict[str, int] = dataclasses.field(default_factory=dict)  # episodes in the source
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


Progress = Callable[[str, int, int | None], None]  # (phase "checking" | "writing", done, total)


# -- reading the source ----------------------------------------------------------------------------

@dataclasses.dataclass(slots=True)
class _Row:
    line: int
    ref: str
    seq: int
    person_ref: str | None
    client_group: str | None
    team: str | None
    trigger: str
    at: dt.datetime
    worker: str | None
    outcome: str | None
    priority: str | None
    route: str | None
    keep_worker: bool
    to: str | None
    note: str | None
    actor: str | None
    allocation: str | None


class _Source:
    """Yields ``(line, values-by-our-column | None, reason | None)`` from a CSV file or dict rows.

    ``size`` and ``done`` count bytes for a file (for a progress bar) and rows otherwise.
    """

    def __init__(self, source, mapping: ImportMapping):
        self.source = source
        self.mapping = mapping
        self.is_file = isinstance(source, str | os.PathLike)
        self.size = os.path.getsize(source) if self.is_file else (len(source) if hasattr(source, "__len__") else None)
        self.done = 0

    def __iter__(self) -> Iterator[tuple[int, dict | None, str | None]]:
        return self._csv() if self.is_file else self._dicts()

    def _dicts(self):
        rename = {theirs: ours for ours, theirs in self.mapping.columns.items()}
        for n, row in enumerate(self.source, start=1):
            self.done = n
            if not isinstance(row, dict):
                yield n, None, f"row {n} is a {type(row).__name__}, not a dict of column values"
                continue
            yield n, {rename.get(k, k): _value(v) for k, v in row.items()}, None

    def _lines(self, f) -> Iterator[str]:
        for n, raw in enumerate(f, start=1):
            self.done += len(raw)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad_lines[n] = (f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                                     "export the extract as UTF-8 (\"CSV UTF-8\")")
                yield raw.decode("utf-8", errors="replace")

    def _csv(self):
        self.bad_lines: dict[int, str] = {}
        with open(self.source, "rb") as f:
            head = f.read(8192)
            f.seek(0)
            if not head.strip():
                raise ValidationError("the file is empty: expected a header line naming the columns "
                                      f"({', '.join(REQUIRED)}, …) and one row per event",
                                      errors=[{"line": 1, "reason": "empty file"}])
            for magic, what in NOT_CSV.items():
                if head.startswith(magic):
                    raise _not_csv(f"it is {what}")
            if b"\x00" in head:
                raise _not_csv("it contains NUL bytes (a binary file, or UTF-16 text)")
            if head.startswith(b"\xef\xbb\xbf"):
                f.seek(3)
            reader = csv.reader(self._lines(f))
            try:
                header = next(reader)
            except csv.Error as exc:
                raise _not_csv(str(exc)) from None
            if 1 in self.bad_lines:
                raise ValidationError(f"line 1: {self.bad_lines[1]}",
                                      errors=[{"line": 1, "reason": self.bad_lines[1]}])
            names = [h.strip() for h in header]
            index = self._header_index(names)
            ours = [c for c, _ in index]
            pick = operator.itemgetter(*[i for _, i in index])
            width = len(names)
            bad_lines = self.bad_lines
            last = reader.line_num
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    line = last + 1
                    last = reader.line_num
                    yield line, None, f"not readable as CSV: {exc}"
                    continue
                line, last = last + 1, reader.line_num
                bad = [bad_lines.pop(n) for n in range(line, last + 1) if n in bad_lines] if bad_lines else None
                if len(fields) == width and not bad:
                    yield line, dict(zip(ours, map(str.strip, pick(fields)), strict=True)), None
                    continue
                if not fields or (len(fields) == 1 and not fields[0].strip()) and not bad:
                    continue  # a blank line
                values = {c: fields[i].strip() for c, i in index if i < len(fields)}
                if bad:
                    yield line, values, bad[0]
                elif len(fields) != width:
                    yield line, values, f"{len(fields)} fields where the header has {width}"
                else:
                    yield line, values, None

    def _header_index(self, names: list[str]) -> list[tuple[str, int]]:
        position = {name: i for i, name in enumerate(names)}
        missing = [self.mapping.heading(c) for c in REQUIRED if self.mapping.heading(c) not in position]
        if missing:
            looks_like = len(names) == 1 and any(s in names[0] for s in (";", "\t", "|"))
            hint = " (is it separated by commas? this header looks like one column)" if looks_like else ""
            reason = (f"missing columns {', '.join(missing)}{hint}; the header has: {', '.join(names)[:300]}"
                      + ("; map the council's headings in the mapping file's [columns]" if not self.mapping.columns
                         else ""))
            raise ValidationError(f"line 1: {reason}", errors=[{"line": 1, "reason": reason}])
        return [(c, position[self.mapping.heading(c)]) for c in COLUMNS if self.mapping.heading(c) in position]


def _not_csv(why: str) -> ValidationError:
    reason = f"this is not a CSV text file: {why}; export the extract as CSV (UTF-8)"
    return ValidationError(reason, errors=[{"line": 1, "reason": reason}])


# -- checking and writing --------------------------------------------------------------------------

@dataclasses.dataclass
class _Stored:
    episode_id: int
    events: list[dict]  # the stored log, oldest first

    @property
    def version(self) -> int:
        return len(self.events)


@dataclasses.dataclass
class _Out:
    """What a batch writes."""

    episodes: list[dict] = dataclasses.field(default_factory=list)
    events: list[dict] = dataclasses.field(default_factory=list)
    refs: list[dict] = dataclasses.field(default_factory=list)
    updates: list[dict] = dataclasses.field(default_factory=list)


class _Import:
    """One pass over the source: ``write=False`` checks it and lists every bad row; ``write=True``
    does the same folding again and writes each batch."""

    def __init__(self, conn: Connection, settings: Settings, mapping: ImportMapping, *, write: bool,
                 actor: str, now: dt.datetime, batch_size: int, progress: Progress | None, checked: bool = False):
        self.conn, self.settings, self.mapping, self.write = conn, settings, mapping, write
        self.checked = checked  # the source passed a checking pass: its rows' own values are known good
        self.actor, self.now, self.batch_size, self.progress = actor, now, batch_size, progress
        self.latest = now + FUTURE_SLACK
        self.errors: list[dict] = []
        self.error_count = 0
        self.summary = ImportSummary()
        self.groups: Counter = Counter()
        self.client_groups = set(settings.client_groups)
        self.outcomes = set(settings.outcomes)
        self.teams = set(conn.execute(sa.select(TEAM.c.key)).scalars())
        self.workers = dict(conn.execute(sa.select(WORKER.c.key, WORKER.c.team)).all())
        self.any_refs = conn.execute(sa.select(EPISODE_REF.c.ref).limit(1)).first() is not None
        self.codes = {f: codes for f, codes in mapping.codes.items() if codes}
        self.postgres = not is_sqlite(conn)

    # errors

    def bad(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED:
            self.errors.append({"line": line, "reason": reason})

    # the pass

    def run(self, source: _Source) -> None:
        seen: set[str] = set()
        chunk: list[list[_Row]] = []
        chunk_rows = 0
        # The rows of the episode being read; None stands for a row of it that could not be read.
        current: list[_Row | None] = []
        current_ref = None
        for line, values, reason in source:
            self.summary.rows += 1
            if reason is not None:
                # Still placed in its episode (when its episode_ref can be read), so the episode's
                # other rows are not reported again as a gap.
                self.bad(line, reason)
                row = None
            else:
                row = self.parse(line, values)
            ref = row.ref if row is not None else (values or {}).get("episode_ref")
            if not ref:
                continue
            if ref != current_ref:
                if ref in seen:
                    self.bad(line, f"episode {ref}'s rows are not together: it already had rows above; "
                                   "sort the extract by episode_ref, then seq")
                    continue
                if current:
                    chunk.append(current)
                    chunk_rows += len(current)
                    if chunk_rows >= self.batch_size:
                        self.flush(chunk)
                        chunk, chunk_rows = [], 0
                        if self.progress:
                            self.progress("writing" if self.write else "checking", source.done, source.size)
                seen.add(ref)
                current, current_ref = [], ref
            current.append(row)
        if current:
            chunk.append(current)
        if chunk:
            self.flush(chunk)
        if self.progress:
            self.progress("writing" if self.write else "checking", source.done, source.size)
        self.summary.by_client_group = dict(sorted(self.groups.items()))

    def parse(self, line: int, v: dict) -> _Row | None:
        """One row's values, checked on their own (codes, dates, lengths); None if any is bad.

        Values arrive normalised by the source: None or "", a stripped string, or (from dict rows) a
        bool, date or datetime.
        """
        if self.checked:
            return self.parse_checked(line, v)
        g = v.get
        ref, seq, raw_at = g("episode_ref") or None, g("seq"), g("occurred_at") or None
        person_ref = g("person_ref") or None
        keep, to, note = g("keep_worker"), g("to") or None, g("note") or None
        actor, allocation = g("actor") or None, g("allocation") or None
        given = {f: g(f) or None for f in CODED}
        coded = given
        if self.codes:
            coded = dict(given)
            for field, codes in self.codes.items():
                value = coded[field]
                if value is not None:
                    coded[field] = codes.get(value, value)
        trigger, group, team, worker = coded["trigger"], coded["client_group"], coded["team"], coded["worker"]
        outcome, priority, route = coded["outcome"], coded["priority"], coded["route"]
        reasons = []
        if ref is None:
            reasons.append("episode_ref is blank")
        elif not _REF(ref):
            reasons.append(f"episode_ref {ref!r} must be 1-64 characters: letters, digits and . _ : / -")
        try:
            seq = int(seq or "")
            if seq < 1:
                reasons.append(f"seq {seq} must be 1 or more (1 is the episode's first row)")
        except ValueError:
            reasons.append(f"seq {seq!r} is not a whole number")
            seq = 1
        if trigger is None:
            reasons.append("trigger is blank")
        elif trigger not in _TRIGGERS:
            reasons.append(self.unknown("trigger", given["trigger"], ("record_contact",) + TRIGGERS))
        at = None
        try:
            at = self.time(raw_at)
            if at is None:
                reasons.append("occurred_at is blank")
            elif at > self.latest:
                reasons.append(f"occurred_at {at.isoformat()} is in the future (now is {self.now.isoformat()})")
        except (PathwayError, ValueError):
            fmt = f" (the mapping's date format is {self.mapping.date_format!r})" if self.mapping.date_format else ""
            reasons.append(f"occurred_at {raw_at!r} is not an ISO 8601 date or time{fmt}")
        if person_ref is not None and not _REF(person_ref):
            reasons.append(f"person_ref {person_ref!r} must be the back end's reference for the person "
                           "(letters, digits and . _ : / -), never a name")
        if group is not None and group not in self.client_groups:
            reasons.append(self.unknown("client_group", given["client_group"], self.settings.client_groups))
        if team is not None and team not in self.teams:
            reasons.append(f"unknown team {team!r}; create it first (pathway teams are: "
                           f"{', '.join(sorted(self.teams)) or 'none yet'})")
        if worker is not None and worker not in self.workers:
            reasons.append(f"unknown worker {worker!r}; create the worker first")
        if outcome is not None and outcome not in self.outcomes:
            reasons.append(self.unknown("outcome", given["outcome"], self.settings.outcomes))
        if priority is not None and priority not in PRIORITIES:
            reasons.append(self.unknown("priority", given["priority"], PRIORITIES))
        if route is not None and len(route) > 64:
            reasons.append("route must be a short code (1-64 characters)")
        if keep is None:
            keep = False
        elif not isinstance(keep, bool):
            text = keep.lower()
            if text not in TRUE and text not in FALSE:
                reasons.append(f"keep_worker {keep!r} must be true or false (1/0, yes/no)")
            keep = text in TRUE
        if note is not None and len(note) > 4000:
            reasons.append("note is longer than 4000 characters")
        if actor is not None and len(actor) > 200:
            reasons.append("actor is longer than 200 characters")
        if allocation is not None and allocation not in ("self", "manager"):
            reasons.append(f"allocation {allocation!r} must be 'self' or 'manager'")
        if reasons:
            self.bad(line, "; ".join(reasons))
            return None
        return _Row(line, ref, seq, person_ref, group, team, trigger, at, worker, outcome, priority, route, keep,
                    to, note, actor, allocation)

    def parse_checked(self, line: int, v: dict) -> _Row:
        """A row the checking pass already found good: the values only (a row's own checks do not depend
        on the database, so they cannot have changed since; the moves are folded and checked again)."""
        g = v.get
        coded = {f: g(f) or None for f in CODED}
        for field, codes in self.codes.items():
            value = coded[field]
            if value is not None:
                coded[field] = codes.get(value, value)
        keep = g("keep_worker")
        if not isinstance(keep, bool):
            keep = (keep or "").lower() in TRUE
        return _Row(line, g("episode_ref"), int(g("seq")), g("person_ref") or None, coded["client_group"],
                    coded["team"], coded["trigger"], self.time(g("occurred_at")), coded["worker"], coded["outcome"],
                    coded["priority"], coded["route"], keep, g("to") or None, g("note") or None,
                    g("actor") or None, g("allocation") or None)

    def unknown(self, field: str, value, ours) -> str:
        hint = (f"add it to [codes.{field}] in the mapping file or use one of: " if field in CODED
                else "use one of: ")
        return f"unknown {field.replace('_', ' ')} {value!r}; {hint}{', '.join(ours)}"

    def time(self, value) -> dt.datetime | None:
        if isinstance(value, str) and self.mapping.date_format:
            return days.parse_time(dt.datetime.strptime(value, self.mapping.date_format))
        return days.parse_time(value)

    # a batch of episodes

    def flush(self, chunk: list[list[_Row | None]]) -> None:
        chunk = [[r for r in rows if r is not None] + [None] * (None in rows) for rows in chunk]
        refs = [rows[0].ref for rows in chunk if rows[0] is not None]
        stored = self.stored(refs) if self.any_refs else {}
        ids: Iterator[int] = iter(())
        if self.write:
            ids = iter(self.new_ids(sum(1 for ref in refs if ref not in stored)))
        out = _Out()
        for rows in chunk:
            if rows[0] is not None:
                self.episode(rows, stored.get(rows[0].ref), ids, out)
        if self.error_count:
            return
        if self.write:
            self.insert(out)

    def episode(self, rows: list[_Row | None], stored: _Stored | None, ids: Iterator[int], out: _Out) -> None:
        s = self.summary
        ok = rows[-1] is not None  # a trailing None: some row of the episode could not be read
        if not ok:
            # Its other rows were checked on their own; its order and moves cannot be, so they are not
            # reported (a gap where the unreadable row was would only repeat the same error).
            rows = rows[:-1]
            s.episodes += 1
            s.events += len(rows) + 1
            return
        s.episodes += 1
        s.events += len(rows)
        first = rows[0]
        state: EpisodeState | None = None
        if stored is not None:
            if first.seq > stored.version + 1 and ok:
                self.bad(first.line, f"episode {first.ref} has {stored.version} events stored; the file's rows "
                                     f"for it start at seq {first.seq} (seq {stored.version + 1} is missing)")
                ok = False
        elif first.seq != 1 and ok:
            self.bad(first.line, f"episode {first.ref} starts at seq {first.seq}: a new episode's rows start "
                                 "at seq 1 (its record_contact)")
            ok = False
        episode_id = stored.episode_id if stored else (next(ids) if self.write else None)
        prev: _Row | None = None
        events: list[tuple] = []
        for row in rows:
            if prev is not None and row.seq != prev.seq + 1:
                if row.seq == prev.seq:
                    why = f"duplicate row: episode {row.ref} seq {row.seq} is also on line {prev.line}"
                elif row.seq < prev.seq:
                    why = (f"out of order: episode {row.ref} seq {row.seq} comes after seq {prev.seq} "
                           f"(line {prev.line}); sort each episode's rows by seq")
                else:
                    why = (f"episode {row.ref} seq {row.seq} follows seq {prev.seq}: seq {prev.seq + 1} is missing "
                           "(or out of order)")
                self.bad(row.line, why)
                ok = False
                if row.seq < prev.seq:
                    continue
            prev = row
            if stored is not None and row.seq <= stored.version:
                why = _differs(row, stored.events[row.seq - 1])
                if why:
                    self.bad(row.line, f"conflicts with the stored event seq {row.seq} of episode {row.ref}: {why}")
                    ok = False
                else:
                    s.unchanged_events += 1
                continue
            if not ok:
                continue
            if stored is not None and state is None:
                state = fold(episode_id, [Fact(e["trigger"], e["occurred_at"], e["worker"], e["outcome"],
                                               e["data"]) for e in stored.events])
            why = self.move(row, state, first, episode_id)
            if isinstance(why, str):
                self.bad(row.line, why)
                ok = False
                continue
            before, state, fact = why
            events.append((before, state, fact, row))
        group = (rows[0].client_group or (stored.events[0]["data"].get("client_group") if stored else None)
                 or "unknown")
        self.groups[group] += 1
        if not ok or not events:
            return
        if stored is None:
            s.new_episodes += 1
        else:
            s.extended_episodes += 1
        s.new_events += len(events)
        if not self.write:
            return
        if stored is None:
            out.refs.append({"ref": first.ref, "episode_id": episode_id, "imported_at": self.now})
        for before, after, fact, row in events:
            allocation = (row.allocation or "manager") if fact.trigger == "allocate" else None
            out.events.append(event_row(before, after, fact, row.actor or self.actor, row.note,
                                                  allocation, None, None, self.now))
        if stored is None:
            out.episodes.append({"id": episode_id, **state_values(state), "idempotency_key": None,
                                 "request_hash": None})
        else:
            out.updates.append({"b_id": episode_id, "b_version": stored.version, **state_values(state)})

    def move(self, row: _Row, state: EpisodeState | None, first: _Row, episode_id: int | None):
        """The row as a move of the episode: (state before, state after, fact), or why it is refused."""
        if row.worker is not None and row.trigger != "allocate":
            return f"worker is given only with allocate, not with {row.trigger}"
        if row.trigger == "record_contact":
            if state is not None:
                return (f"record_contact on seq {row.seq}: only an episode's first row (seq 1) records the "
                        "contact; a new contact after closure is a new episode_ref")
            missing = [c for c in ("person_ref", "client_group", "team") if getattr(row, c) is None]
            if missing:
                return f"the contact (seq 1) needs {', '.join(missing)}"
            fact = Fact("record_contact", row.at, data={
                "person_ref": row.person_ref, "client_group": row.client_group, "team": row.team,
                "priority": row.priority or "normal", "route": row.route})
            return None, start(episode_id, fact), fact
        if state is None:
            return f"episode {row.ref}'s first row (seq 1) must be its record_contact, not {row.trigger}"
        for column in ("person_ref", "client_group", "team"):
            value = getattr(row, column)
            if value is not None and value != getattr(state, column):
                return (f"{column} {value!r} differs from the episode's {getattr(state, column)!r} "
                        f"(line {first.line}); give it on the first row, and blank or the same on later rows")
        if row.at < state.stage_at:
            return (f"occurred_at {row.at.isoformat()} is before the episode's previous event "
                    f"({state.stage_at.isoformat()}): events out of order")
        if row.trigger == "allocate" and row.worker is not None and self.workers[row.worker] != state.team:
            return (f"worker {row.worker!r} is in team {self.workers[row.worker]!r}, not the episode's team "
                    f"{state.team!r}")
        data: dict[str, Any] = {}
        if row.keep_worker:
            data["keep_worker"] = True
        if row.to is not None:
            data["to"] = row.to
        fact = Fact(row.trigger, row.at, worker=row.worker, outcome=row.outcome, data=data)
        try:
            return state, apply(state, fact), fact
        except PathwayError as exc:
            return exc.detail

    # the database

    def stored(self, refs: list[str]) -> dict[str, _Stored]:
        """The batch's episodes already imported, with their logs (in slices: SQLite caps bound parameters)."""
        found: dict[str, int] = {}
        for part in _slices(refs):
            found.update(self.conn.execute(sa.select(EPISODE_REF.c.ref, EPISODE_REF.c.episode_id)
                                           .where(EPISODE_REF.c.ref.in_(part))).all())
        if not found:
            return {}
        by_id: dict[int, list] = {i: [] for i in found.values()}
        ev = EVENT
        for part in _slices(list(by_id)):
            q = (sa.select(ev.c.episode_id, ev.c.seq, ev.c.trigger, ev.c.occurred_at, ev.c.worker, ev.c.outcome,
                           ev.c.note, ev.c.data).where(ev.c.episode_id.in_(part))
                 .order_by(ev.c.episode_id, ev.c.seq))
            for e in self.conn.execute(q).mappings().all():  # all at once: a fetch per row is slow on psycopg
                by_id[e["episode_id"]].append(e)
        return {ref: _Stored(i, by_id[i]) for ref, i in found.items()}

    def new_ids(self, n: int) -> list[int]:
        if n == 0:
            return []
        if self.postgres:
            return list(self.conn.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('episode', 'id')) FROM generate_series(1, %(n)s)",
                {"n": n}).scalars())
        # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so the next ids are ours.
        top = self.conn.execute(sa.select(sa.func.max(EPISODE.c.id))).scalar() or 0
        return list(range(top + 1, top + 1 + n))

    def insert(self, out: _Out) -> None:
        for table, rows in ((EPISODE, out.episodes), (EPISODE_REF, out.refs)):
            if rows:
                write_rows(self.conn, table, rows)
        if out.updates:
            ep = EPISODE
            names = [n for n in out.updates[0] if not n.startswith("b_")]
            stmt = (ep.update().where(ep.c.id == sa.bindparam("b_id"), ep.c.version == sa.bindparam("b_version"))
                    .values({n: sa.bindparam(n) for n in names}))
            changed = self.conn.execute(stmt, out.updates).rowcount
            if changed != len(out.updates):
                raise Conflict("an imported episode was changed while the import ran; nothing was written, "
                               "run the import again")
        if out.events:
            write_rows(self.conn, EVENT, out.events)


def write_rows(conn: Connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert many rows at once: COPY on PostgreSQL, executemany on SQLite (the bulk paths of each)."""
    if is_sqlite(conn):
        conn.execute(table.insert(), rows)
        return
    import json

    columns = list(rows[0])
    pick = operator.itemgetter(*columns)
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, sa.JSON)]
    cursor = conn.connection.driver_connection.cursor()
    sql = f'COPY "{table.name}" ({", ".join(chr(34) + c + chr(34) for c in columns)}) FROM STDIN'
    with cursor.copy(sql) as copy:
        write = copy.write_row
        if not json_at:
            for r in rows:
                write(pick(r))
            return
        for r in rows:
            values = list(pick(r))
            for i in json_at:
                values[i] = json.dumps(values[i]) if values[i] else "{}"
            write(values)


def _slices(items: list, size: int = 5000):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _value(value):
    """A dict row's value as the CSV reader gives it: None, a stripped non-empty string, or a bool or date."""
    if value is None or isinstance(value, bool | dt.date):
        return value
    return str(value).strip() or None


def _differs(row: _Row, event: dict) -> str | None:
    """Why a row is not the stored event it claims to be, or None when it is the same."""
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
    diffs = [f"{k} is {_show(theirs[k])} stored, {_show(mine[k])} in the file"
             for k in mine if mine[k] != theirs[k]]
    return "; ".join(diffs) or None


def _show(value) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else repr(value)


def refused(imp: _Import) -> ValidationError:
    listed = "; ".join(f"line {e['line']}: {e['reason']}" for e in imp.errors[:5])
    more = imp.error_count - min(5, imp.error_count)
    detail = (f"the import was refused and nothing was written: {imp.error_count} bad "
              f"row{'s' if imp.error_count != 1 else ''} — {listed}" + (f"; and {more} more" if more else ""))
    return ValidationError(detail, errors=imp.errors, error_count=imp.error_count,
                           not_listed=imp.error_count - len(imp.errors))


def import_history(db: sa.Engine, settings: Settings, source, mapping=None, *, actor: str,
                   now: dt.datetime, batch_size: int = 10_000, progress: Progress | None = None,
                   single_pass: bool = False) -> ImportSummary:
    """Check the whole source, then write it in one transaction; a ValidationError lists every bad row.

    ``single_pass`` checks and writes in the same pass, inside the one transaction, and rolls it back
    if any row is bad: still all or nothing (nobody sees the rows before the commit), in about half
    the time, but the transaction holds its rows and locks while the rest of the file is checked."""
    from pathway.store.db import unit_of_work

    began = time.perf_counter()
    mapping = ImportMapping.coerce(mapping)
    if isinstance(source, str | os.PathLike):
        if not Path(source).is_file():
            raise ValidationError(f"no file {str(source)!r}", field="file")
    elif isinstance(source, bytes | str | io.IOBase):
        raise ValidationError("import_history takes a CSV file path or an iterable of dict rows", field="source")
    two_passes = isinstance(source, str | os.PathLike | list | tuple) and not single_pass
    options = dict(actor=actor, now=now, batch_size=batch_size, progress=progress)
    try:
        if not two_passes:
            # A one-shot iterator cannot be read twice (and single_pass asks not to): check and write in
            # the same pass, and roll the transaction back if any row is bad (still all or nothing).
            with unit_of_work(db, write=True) as conn:
                imp = _Import(conn, settings, mapping, write=True, **options)
                imp.run(_Source(source, mapping))
                if imp.error_count:
                    raise refused(imp)
        else:
            # Check everything without writing; then read and fold the source again, writing as it goes.
            # (Keeping the checked rows in a spool file instead was measured: pickling them costs as much
            # CPU as reading and folding again, and needs disk the size of the extract.)
            with unit_of_work(db, write=False) as conn:
                imp = _Import(conn, settings, mapping, write=False, **options)
                imp.run(_Source(source, mapping))
            if imp.error_count:
                raise refused(imp)
            if imp.summary.new_events:  # else everything is already there: nothing to write
                with unit_of_work(db, write=True) as conn:
                    writer = _Import(conn, settings, mapping, write=True, checked=True, **options)
                    writer.run(_Source(source, mapping))
                    if writer.error_count:  # the database changed between the passes
                        raise refused(writer)
    except sa.exc.IntegrityError as exc:
        raise Conflict("another import wrote some of these episodes at the same time; nothing was "
                       "written by this one, run it again") from exc
    imp.summary.seconds = round(time.perf_counter() - began, 3)
    return imp.summary
