"""The import itself: read the source, check every row, then write it all or nothing, batch by batch."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from pathway.errors import Conflict, ValidationError
from pathway.services.history.check import Folded, RowRefused, Rules
from pathway.services.history.parse import ImportMapping, Row, RowReader, Source
from pathway.settings import Settings
from pathway.store.episodes import event_row, state_values
from pathway.store.unit import Store, Unit

# An extract of up to this many new events is written from what its checking pass folded, kept in
# memory (tens of MB at most), instead of being read and folded again (docs/decisions/0016).
KEEP_EVENTS = 50_000
Progress = Callable[[str, int, int | None], None]  # (phase "checking" | "writing", done, total)


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


@dataclasses.dataclass
class _Out:
    """What a batch writes."""

    episodes: list[dict] = dataclasses.field(default_factory=list)
    events: list[dict] = dataclasses.field(default_factory=list)
    refs: list[dict] = dataclasses.field(default_factory=list)
    updates: list[dict] = dataclasses.field(default_factory=list)


# A batch: each episode's readable rows, and whether any row of it could not be read.
_Batch = list[tuple[list[Row], bool]]


class _Import:
    """One pass over the source: ``write=False`` checks it and lists every bad row; ``write=True``
    does the same folding again and writes each batch."""

    def __init__(self, uow: Unit, settings: Settings, mapping: ImportMapping, *, write: bool, actor: str,
                 now: dt.datetime, batch_size: int, progress: Progress | None, checked: bool = False,
                 keep: int = 0):
        self.bulk, self.write, self.actor, self.now = uow.bulk, write, actor, now
        self.checked = checked  # the source passed a checking pass: its rows' own values are known good
        # A checking pass that keeps what it would write, while that is at most ``keep`` events. Its new
        # episodes have stand-in ids (-1, -2, …) until the writing unit takes real ones (:func:`write_kept`).
        self.kept: _Out | None = _Out() if keep and not write else None
        self.keep = keep
        self.stand_ins = itertools.count(-1, -1)
        self.batch_size, self.progress = batch_size, progress
        self.rules = Rules(settings.client_groups, settings.outcomes, self.bulk.teams(), self.bulk.worker_teams(),
                           now)
        self.reader = RowReader(mapping)
        self.any_imported = self.bulk.any_imported()
        self.errors: list[dict] = []
        self.error_count = 0
        self.listed = settings.import_errors_listed  # bad rows listed in a report; the rest are counted
        # Lines whose row was refused on its own but whose place in its episode is known: their order is
        # still checked with the rest of the episode's rows, their move is not.
        self.refused: set[int] = set()
        self.summary = ImportSummary()
        self.groups: Counter = Counter()

    def bad(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < self.listed:
            self.errors.append({"line": line, "reason": reason})

    def run(self, source: Source) -> None:
        """Read the source episode by episode (each episode's rows together), a batch at a time."""
        seen: set[str] = set()
        batch: _Batch = []
        size = rows = 0
        current: list[Row] = []
        current_ref, unreadable = None, False
        for line, values, reason in source:
            rows += 1
            row = self.row(line, values, reason)
            ref = row.ref if row is not None else (values[0] or None if values else None)
            if not ref:
                continue
            if ref != current_ref:
                if ref in seen:
                    self.bad(line, f"episode {ref}'s rows are not together: it already had rows above; "
                                   "sort the extract by episode_ref, then seq")
                    continue
                if current or unreadable:
                    batch.append((current, unreadable))
                    size += len(current)
                    if size >= self.batch_size:
                        self.flush(batch, source)
                        batch, size = [], 0
                seen.add(ref)
                current, current_ref, unreadable = [], ref, False
            if row is None:
                unreadable = True
            else:
                current.append(row)
        if current or unreadable:
            batch.append((current, unreadable))
        self.flush(batch, source)
        self.summary.rows = rows
        self.summary.by_client_group = dict(sorted(self.groups.items()))

    def row(self, line: int, values: tuple | None, reason: str | None) -> Row | None:
        """The line as a row, or None (and listed) if it is bad on its own."""
        if reason is not None:
            # Still placed in its episode (when its episode_ref can be read), so the episode's
            # other rows are not reported again as a gap.
            self.bad(line, reason)
            return None
        row = self.reader.read(line, values)
        if not self.checked:
            try:
                self.rules.check_row(row)
            except RowRefused as refusal:
                self.bad(line, refusal.reason)
                if row.ref is None or row.seq < 1 or not row.seq_read:
                    return None  # its place in the episode is not known either
                self.refused.add(line)
        return row

    def flush(self, batch: _Batch, source: Source) -> None:
        """Check (and write) a batch of episodes."""
        refs = [rows[0].ref for rows, _ in batch if rows]
        stored = self.bulk.imported(refs) if self.any_imported and refs else {}
        ids: Iterator[int] = iter(())
        if self.write:
            ids = iter(self.bulk.new_ids(sum(1 for ref in refs if ref not in stored)))
        elif self.kept is not None:
            ids = self.stand_ins
        out = self.kept if self.kept is not None else _Out()
        for rows, unreadable in batch:
            if rows:
                self.episode(rows, unreadable, stored.get(rows[0].ref), ids, out)
        if self.kept is not None and (self.error_count or self.summary.new_events > self.keep):
            self.kept = None  # too many to keep (or refused anyway): the writing pass reads the source again
        if self.write and not self.error_count:
            if self.bulk.update_episodes(out.updates) != len(out.updates):
                raise Conflict("an imported episode was changed while the import ran; nothing was written, "
                               "run the import again")
            self.bulk.write(out.episodes, out.refs, out.events)
        if self.progress:
            self.progress("writing" if self.write else "checking", source.done, source.size)

    def episode(self, rows: list[Row], unreadable: bool, stored, ids: Iterator[int], out: _Out) -> None:
        s = self.summary
        s.episodes += 1
        s.events += len(rows) + unreadable
        if unreadable:
            # Its other rows were checked on their own; its order and moves cannot be, so they are not
            # reported (a gap where the unreadable row was would only repeat the same error).
            return
        outputs = self.write or self.kept is not None
        episode_id = stored.episode_id if stored else (next(ids) if outputs else None)
        folded = self.rules.fold(rows, stored, episode_id, self.bad, self.refused)
        s.unchanged_events += folded.unchanged
        self.groups[rows[0].client_group or (stored.events[0]["data"].get("client_group") if stored else None)
                    or "unknown"] += 1
        if not folded.ok or not folded.moves:
            return
        if stored is None:
            s.new_episodes += 1
        else:
            s.extended_episodes += 1
        s.new_events += len(folded.moves)
        if outputs:
            self.output(rows[0].ref, stored, folded, out)

    def output(self, ref: str, stored, folded: Folded, out: _Out) -> None:
        """The rows a checked episode writes: its events, and its episode row (new or moved on)."""
        now, actor = self.now, self.actor
        for before, after, fact, row in folded.moves:
            allocation = (row.allocation or "manager") if fact.trigger == "allocate" else None
            out.events.append(event_row(before, after, fact, row.actor or actor, row.note, allocation, None, None, now))
        state = folded.state
        if stored is None:
            out.refs.append({"ref": ref, "episode_id": state.id, "imported_at": now})
            out.episodes.append({"id": state.id, **state_values(state), "idempotency_key": None,
                                 "request_hash": None})
        else:
            out.updates.append({"b_id": state.id, "b_version": stored.version, **state_values(state)})


def refused(imp: _Import) -> ValidationError:
    listed = "; ".join(f"line {e['line']}: {e['reason']}" for e in imp.errors[:5])
    more = imp.error_count - min(5, imp.error_count)
    detail = (f"the import was refused and nothing was written: {imp.error_count} bad "
              f"row{'s' if imp.error_count != 1 else ''} — {listed}" + (f"; and {more} more" if more else ""))
    return ValidationError(detail, errors=imp.errors, error_count=imp.error_count,
                           not_listed=imp.error_count - len(imp.errors))


def import_history(store: Store, settings: Settings, source, mapping=None, *, actor: str, now: dt.datetime,
                   batch_size: int = 10_000, progress: Progress | None = None,
                   single_pass: bool = False) -> ImportSummary:
    """Check the whole source, then write it in one transaction; a ValidationError lists every bad row.

    ``single_pass`` checks and writes in the same pass, inside the one transaction, and rolls it back
    if any row is bad: still all or nothing (nobody sees the rows before the commit), in about half
    the time, but the transaction holds its rows and locks while the rest of the file is checked."""
    began = time.perf_counter()
    mapping = ImportMapping.coerce(mapping)
    if isinstance(source, str | os.PathLike):
        if not Path(source).is_file():
            raise ValidationError(f"no file {str(source)!r}", field="file")
    elif isinstance(source, bytes | str | io.IOBase):
        raise ValidationError("import_history takes a CSV file path or an iterable of dict rows", field="source")
    options = dict(settings=settings, mapping=mapping, actor=actor, now=now, batch_size=batch_size,
                   progress=progress)
    if isinstance(source, str | os.PathLike | list | tuple) and not single_pass:
        summary = _check_then_write(store, source, options)
    else:
        # A one-shot iterator cannot be read twice (and single_pass asks not to).
        summary = _check_while_writing(store, source, options)
    summary.seconds = round(time.perf_counter() - began, 3)
    return summary


def _check_then_write(store: Store, source, options: dict) -> ImportSummary:
    """Check everything without writing; then write what the check kept (up to KEEP_EVENTS new events),
    or read and fold the source again, writing as it goes. (Keeping the checked rows of a large
    extract in a spool file instead costs as much CPU as reading and folding again, and needs disk
    the size of the extract.)"""
    with store.unit(write=False) as uow:
        imp = _Import(uow, write=False, keep=KEEP_EVENTS, **options)
        imp.run(Source(source, options["mapping"]))
    if imp.error_count:
        raise refused(imp)
    if imp.summary.new_events and imp.kept is not None:
        with store.unit(write=True) as uow:
            write_kept(uow, imp.kept)
        if options["progress"]:
            options["progress"]("writing", 1, 1)
    elif imp.summary.new_events:  # else everything is already there: nothing to write
        with store.unit(write=True) as uow:
            uow.bulk.reserve_ids(imp.summary.new_episodes)
            writer = _Import(uow, write=True, checked=True, **options)
            writer.run(Source(source, options["mapping"]))
            if writer.error_count:  # the database changed between the passes
                raise refused(writer)
    return imp.summary


def write_kept(uow: Unit, kept: _Out) -> None:
    """Write what a checking pass kept: its new episodes get real ids in place of their stand-ins. A stored
    episode moves on only from the version the check read, and a new one's reference is unique, so an
    import that wrote the same episodes meanwhile makes this one a Conflict, with nothing written."""
    real = uow.bulk.new_ids(len(kept.episodes))
    for rows, column in ((kept.episodes, "id"), (kept.refs, "episode_id"), (kept.events, "episode_id")):
        for row in rows:
            if row[column] < 0:
                row[column] = real[-1 - row[column]]
    if uow.bulk.update_episodes(kept.updates) != len(kept.updates):
        raise Conflict("an imported episode was changed while the import ran; nothing was written, "
                       "run the import again")
    uow.bulk.write(kept.episodes, kept.refs, kept.events)


def _check_while_writing(store: Store, source, options: dict) -> ImportSummary:
    """Check and write in the same pass, and roll the transaction back if any row is bad."""
    with store.unit(write=True) as uow:
        imp = _Import(uow, write=True, **options)
        imp.run(Source(source, options["mapping"]))
        if imp.error_count:
            raise refused(imp)
    return imp.summary

