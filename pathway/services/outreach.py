"""Welfare checks and outreach recorded in bulk: a CSV of checks made, all or nothing.

Each row is a check made on a person (``person_ref, team, when, outcome`` and, optionally, the
``client_group`` a new contact is recorded under). A check on a person with an open episode is a
``welfare_check`` event of that episode (an event kind that keeps the stage, pathway.domain.events.KINDS,
which a worker may also record on its own); for anybody else it is a new
contact with the check as its first event, resolved at once with ``welfare_check_done`` when the
person was spoken to or did not answer, and left open at the front door when they need a follow-up.
Every row is checked first, with every bad row listed by line; only a clean file is written, in one
unit of work. Each row's fingerprint is its idempotency key, so sending the same file again adds
nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import types
from pathlib import Path

from pathway.domain import checks, days
from pathway.domain.commands import Move, RecordContact
from pathway.domain.episode import EpisodeState
from pathway.domain.scrutiny import WELFARE_CHECK, check_outreach_outcome
from pathway.errors import Forbidden, PathwayError, ValidationError
from pathway.services import episodes, kinds
from pathway.services.history.run import refused
from pathway.settings import Settings
from pathway.store.unit import Unit

COLUMNS = ("person_ref", "team", "when", "outcome")
OPTIONAL = ("client_group",)
ROUTE = "welfare_check"  # the route of a contact a check opens
MAX_ROWS = 100_000


@dataclasses.dataclass
class OutreachSummary:
    rows: int = 0
    on_open_episode: int = 0
    resolved_contacts: int = 0
    follow_up_contacts: int = 0
    unchanged: int = 0  # rows sent before: nothing added

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Check:
    line: int
    person_ref: str
    team: str
    when: dt.datetime
    outcome: str
    client_group: str
    key: str


def read(source) -> list[dict]:
    """The rows of a CSV path, CSV text or an iterable of dicts, each with its line number ("_line")."""
    if isinstance(source, (str, Path)) and not (isinstance(source, str) and "\n" in source):
        path = Path(source)
        if not path.is_file():
            raise ValidationError(f"no file {str(source)!r}", field="file")
        try:
            source = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(f"{path} is not UTF-8 text; export it as UTF-8 (\"CSV UTF-8\")",
                                  field="file") from None
    if isinstance(source, str):
        reader = csv.DictReader(io.StringIO(source))
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationError(f"the file has no {', '.join(missing)} column; columns are: "
                                  f"{', '.join(COLUMNS)} (and optionally {', '.join(OPTIONAL)})", field="file")
        return [{**row, "_line": reader.line_num} for row in reader]
    return [{**row, "_line": i} for i, row in enumerate(source, start=2)]


def _check_row(row: dict, settings: Settings, teams: set[str], now: dt.datetime) -> Check:
    """One row as a Check, or the PathwayError saying what is wrong with it."""
    values = {k: (row.get(k) or "").strip() for k in (*COLUMNS, *OPTIONAL)}
    blank = [k for k in COLUMNS if not values[k]]
    if blank:
        raise ValidationError(f"{', '.join(blank)} {'is' if len(blank) == 1 else 'are'} blank")
    checks.check_person_ref(values["person_ref"], settings.security.ref_policy)
    if values["team"] not in teams:
        raise ValidationError(f"unknown team {values['team']!r}; teams are: {', '.join(sorted(teams)) or 'none yet'}")
    when = checks.event_time(values["when"], now, settings.security.horizon, "when")
    check_outreach_outcome(values["outcome"])
    group = values["client_group"] or "unknown"
    settings.check_client_group(group)
    key = "outreach:" + checks.request_hash({k: values[k] for k in (*COLUMNS, *OPTIONAL)})[:40]
    return Check(row["_line"], values["person_ref"], values["team"], when, values["outcome"], group, key)


def import_checks(uow: Unit, settings: Settings, source, *, actor: str, now: dt.datetime,
                  only_team: str | None = None) -> OutreachSummary:
    """Check every row, then write them all, or raise one ValidationError listing every bad row.
    ``only_team``: the caller may record checks of that team only (a manager); a row of another team
    refuses the whole file (Forbidden), before anything is checked or written."""
    rows = read(source)
    if len(rows) > MAX_ROWS:
        raise ValidationError(f"{len(rows)} rows: send at most {MAX_ROWS} in one file", field="file")
    if only_team is not None:
        others = [row["_line"] for row in rows if (row.get("team") or "").strip() != only_team]
        if others:
            listed = ", ".join(map(str, others[:10])) + (" …" if len(others) > 10 else "")
            raise Forbidden(f"{'line' if len(others) == 1 else 'lines'} {listed} "
                            f"{'is' if len(others) == 1 else 'are'} not of team {only_team!r}: a manager records "
                            "welfare checks of their own team only; nothing was written", team=only_team)
    teams = {t["key"] for t in uow.episodes.teams()}
    errors: list[dict] = []
    good: list[Check] = []
    for row in rows:
        try:
            good.append(_check_row(row, settings, teams, now))
        except PathwayError as exc:
            errors.append({"line": row["_line"], "reason": exc.detail})
    # In time order, so a check attaches to the episode an earlier check of the file opened.
    good.sort(key=lambda c: (c.when, c.line))
    summary = OutreachSummary(rows=len(rows))
    planned: list[tuple[Check, EpisodeState | None]] = []
    opened: dict[str, Check] = {}  # person -> the follow-up contact an earlier row opens
    for c in good:
        if c.key in opened or uow.scrutiny.check_recorded(c.key, days.london_date(c.when)):
            summary.unchanged += 1
            continue
        state = uow.scrutiny.open_episode(c.person_ref)
        earlier = opened.get(c.person_ref)
        start = earlier.when if earlier is not None else (state.stage_at if state is not None else None)
        if start is not None and c.when < start:
            errors.append({"line": c.line, "reason": f"when {c.when.isoformat()} is before the person's open episode's "
                                                     f"latest change ({start.isoformat()}); send checks in order"})
            continue
        if state is None and earlier is None and c.outcome == "needs_follow_up":
            opened[c.person_ref] = c
        planned.append((c, state))
    if errors:
        errors.sort(key=lambda e: e["line"])
        raise refused(types.SimpleNamespace(errors=errors[:settings.import_errors_listed], error_count=len(errors)))
    for c, state in planned:
        _write(uow, settings, c, state, actor, now, summary)
    return summary


def _write(uow: Unit, settings: Settings, c: Check, state: EpisodeState | None, actor: str, now: dt.datetime,
           summary: OutreachSummary) -> None:
    data = {"outcome": c.outcome}
    if state is None:
        state = uow.scrutiny.open_episode(c.person_ref)  # a follow-up contact an earlier row opened
    if state is not None:
        kinds.append(uow, state, WELFARE_CHECK, c.when, {**data, "placed": "open_episode"}, note=None, actor=actor,
                     now=now, key=c.key)
        summary.on_open_episode += 1
        return
    contact = episodes.record_contact(uow, settings, RecordContact(
        person_ref=c.person_ref, client_group=c.client_group, team=c.team, occurred_at=c.when, route=ROUTE),
        actor=actor, now=now)
    placed = "follow_up_contact" if c.outcome == "needs_follow_up" else "resolved_contact"
    state = kinds.append(uow, contact, WELFARE_CHECK, c.when, {**data, "placed": placed}, note=None, actor=actor,
                         now=now, key=c.key)
    if placed == "resolved_contact":
        episodes.move(uow, settings, state.id, Move("resolve", outcome="welfare_check_done", occurred_at=c.when),
                      actor=actor, now=now, loaded=state)
        summary.resolved_contacts += 1
    else:
        summary.follow_up_contacts += 1
