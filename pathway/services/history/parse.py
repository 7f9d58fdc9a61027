"""Reading a history extract: the council's mapping file, its CSV file (or dict rows), and each line as a typed row."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import operator
import os
import tomllib
from collections.abc import Iterator

from pathway.domain import days
from pathway.errors import PathwayError, ValidationError

# The CSV layout, in our words. A council's mapping file may rename any of them.
COLUMNS = ("episode_ref", "seq", "person_ref", "client_group", "team", "trigger", "occurred_at", "worker",
           "outcome", "priority", "route", "keep_worker", "to", "note", "actor", "allocation")
REQUIRED = ("episode_ref", "seq", "person_ref", "client_group", "team", "trigger", "occurred_at")
# Fields whose values a mapping may translate from the council's codes to ours.
CODED = ("client_group", "outcome", "trigger", "priority", "route", "team", "worker")
TRUE = frozenset({"1", "true", "yes", "y", "t"})
FALSE = frozenset({"", "0", "false", "no", "n", "f"})
NOT_CSV = {b"PK\x03\x04": "a zip archive or an Excel .xlsx workbook",
           b"\xd0\xcf\x11\xe0": "an Excel .xls workbook", b"%PDF": "a PDF document"}
# Extracts repeat dates (a day's contacts, or dates without a time): the times read are remembered,
# up to this many distinct texts (then forgotten at once, so timestamps that never repeat cost little).
TIMES_KEPT = 4096


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


# -- the source ------------------------------------------------------------------------------------

class Source:
    """Yields ``(line, values, reason)`` from a CSV file or dict rows: ``values`` in :data:`COLUMNS` order
    (a stripped string, "" or None when absent, or from dict rows a bool or date), ``reason`` why the
    line could not be read whole (its values then are what could be read, or None).

    ``size`` and ``done`` count bytes for a file (for a progress bar) and rows otherwise.
    """

    def __init__(self, source, mapping: ImportMapping):
        self.source = source
        self.mapping = mapping
        self.is_file = isinstance(source, str | os.PathLike)
        self.size = os.path.getsize(source) if self.is_file else (len(source) if hasattr(source, "__len__") else None)
        self.done = 0
        self.bad_lines: dict[int, str] = {}  # lines that are not UTF-8, by number

    def __iter__(self) -> Iterator[tuple[int, tuple | None, str | None]]:
        return self._csv() if self.is_file else self._dicts()

    def _dicts(self):
        rename = {theirs: ours for ours, theirs in self.mapping.columns.items()}
        for n, row in enumerate(self.source, start=1):
            self.done = n
            if not isinstance(row, dict):
                yield n, None, f"row {n} is a {type(row).__name__}, not a dict of column values"
                continue
            ours = {rename.get(k, k): v for k, v in row.items()}
            yield n, tuple(_value(ours.get(c)) for c in COLUMNS), None

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
        with open(self.source, "rb") as f:
            _check_head(f)
            reader = csv.reader(self._lines(f))
            try:
                header = next(reader)
            except csv.Error as exc:
                raise _not_csv(str(exc)) from None
            if 1 in self.bad_lines:
                raise ValidationError(f"line 1: {self.bad_lines[1]}", errors=[{"line": 1, "reason": self.bad_lines[1]}])
            yield from self._records(reader, [h.strip() for h in header])

    def _records(self, reader, names: list[str]):
        width = len(names)
        # Absent columns are read from one more field, always blank, put after each line's own.
        pick = operator.itemgetter(*self._positions(names))
        strip, last = str.strip, reader.line_num
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line, last = last + 1, reader.line_num
                yield line, None, f"not readable as CSV: {exc}"
                continue
            line, last = last + 1, reader.line_num
            bad = self._not_utf8(line, last) if self.bad_lines else None
            n = len(fields)
            if n == width and not bad:
                fields.append("")
                yield line, tuple(map(strip, pick(fields))), None
            elif n > 1 or (n == 1 and fields[0].strip()) or bad:  # else a blank line
                fields = fields[:width] + [""] * (width + 1 - min(n, width))
                reason = bad or (f"{n} fields where the header has {width}" if n != width else None)
                yield line, tuple(map(strip, pick(fields))), reason

    def _not_utf8(self, first: int, last: int) -> str | None:
        bad = [self.bad_lines.pop(n) for n in range(first, last + 1) if n in self.bad_lines]
        return bad[0] if bad else None

    def _positions(self, names: list[str]) -> list[int]:
        """Where each of our columns is in a line (``len(names)``, the blank field, when absent)."""
        position = {name: i for i, name in enumerate(names)}
        heading = self.mapping.heading
        missing = [heading(c) for c in REQUIRED if heading(c) not in position]
        if missing:
            looks_like = len(names) == 1 and any(s in names[0] for s in (";", "\t", "|"))
            hint = " (is it separated by commas? this header looks like one column)" if looks_like else ""
            reason = (f"missing columns {', '.join(missing)}{hint}; the header has: {', '.join(names)[:300]}"
                      + ("; map the council's headings in the mapping file's [columns]" if not self.mapping.columns
                         else ""))
            raise ValidationError(f"line 1: {reason}", errors=[{"line": 1, "reason": reason}])
        return [position.get(heading(c), len(names)) for c in COLUMNS]


def _check_head(f) -> None:
    """Refuse a file that is empty or plainly not CSV text; leave ``f`` at its first character."""
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


def _not_csv(why: str) -> ValidationError:
    reason = f"this is not a CSV text file: {why}; export the extract as CSV (UTF-8)"
    return ValidationError(reason, errors=[{"line": 1, "reason": reason}])


def _value(value):
    """A dict row's value as the CSV reader gives it: None, a stripped string, or a bool or date."""
    if value is None or isinstance(value, bool | dt.date):
        return value
    return str(value).strip()


# -- a line as a typed row ---------------------------------------------------------------------------

@dataclasses.dataclass(slots=True)
class Row:
    """One line of the extract, its codes translated to ours; ``problems`` says which values could not be read."""

    line: int
    ref: str | None
    seq: int
    person_ref: str | None
    client_group: str | None
    team: str | None
    trigger: str | None
    at: dt.datetime | None
    worker: str | None
    outcome: str | None
    priority: str | None
    route: str | None
    keep_worker: bool
    to: str | None
    note: str | None
    actor: str | None
    allocation: str | None
    given: tuple  # the values as the extract gave them (before the mapping's codes), for messages
    problems: tuple[str, ...] = ()
    seq_read: bool = True  # False when seq could not be read (then the row has no place in its episode's order)


class RowReader:
    """Turns a source's values into a :class:`Row`: whole numbers, times, flags, and the mapping's codes."""

    def __init__(self, mapping: ImportMapping):
        self.mapping = mapping
        self.codes = [(COLUMNS.index(f), codes) for f, codes in mapping.codes.items() if codes]
        self.times: dict = {}

    def read(self, line: int, given: tuple) -> Row:
        values = self.translate(given) if self.codes else given
        (ref, seq, person_ref, group, team, trigger, at, worker, outcome, priority, route, keep, to, note, actor,
         allocation) = values
        problems: tuple[str, ...] = ()
        seq_read = True
        try:
            seq = int(seq or "")
        except (TypeError, ValueError):
            problems += (f"seq {seq!r} is not a whole number",)
            seq, seq_read = 1, False
        try:
            at = self.time(at or None)
            if at is None:
                problems += ("occurred_at is blank",)
        except (PathwayError, ValueError, TypeError):
            fmt = f" (the mapping's date format is {self.mapping.date_format!r})" if self.mapping.date_format else ""
            problems += (f"occurred_at {at!r} is not an ISO 8601 date or time{fmt}",)
            at = None
        if keep is None or keep is True or keep is False:
            keep = bool(keep)
        else:
            text = keep.lower()
            if text not in TRUE and text not in FALSE:
                problems += (f"keep_worker {keep!r} must be true or false (1/0, yes/no)",)
            keep = text in TRUE
        return Row(line, ref or None, seq, person_ref or None, group or None, team or None, trigger or None, at,
                   worker or None, outcome or None, priority or None, route or None, keep, to or None,
                   note or None, actor or None, allocation or None, given, problems, seq_read)

    def translate(self, values: tuple) -> list:
        values = list(values)
        for i, codes in self.codes:
            value = values[i]
            if value:
                values[i] = codes.get(value, value)
        return values

    def time(self, value) -> dt.datetime | None:
        """``occurred_at`` as an aware UTC time (in the mapping's date format, if it has one)."""
        if value is None:
            return None
        at = self.times.get(value)
        if at is None:
            if isinstance(value, str) and self.mapping.date_format:
                at = days.parse_time(dt.datetime.strptime(value, self.mapping.date_format))
            else:
                at = days.parse_time(value)
            if len(self.times) >= TIMES_KEPT:
                self.times.clear()
            self.times[value] = at
        return at
