"""Case progression and the front door's report: what the weekly case progression meeting and the
contact centre's scrutiny read, as set-based SQL in the store (pathway.store.progression)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pathway.domain.stages import ACTIVE
from pathway.errors import ValidationError
from pathway.services.reports import SHAPES, Reports, one_decimal
from pathway.store.progression import FRONT_DOOR_STAGE, PROGRESSION_GROUPINGS


def check_groupings(group_by: Sequence[str] | str | None) -> tuple[str, ...]:
    if group_by is None:
        return PROGRESSION_GROUPINGS
    if isinstance(group_by, str):
        group_by = [g.strip() for g in group_by.split(",") if g.strip()]
    for name in group_by:
        if name not in PROGRESSION_GROUPINGS:
            raise ValidationError(f"case progression is grouped by {' and/or '.join(PROGRESSION_GROUPINGS)}, "
                                  f"not {name!r}", field="group_by")
    return tuple(g for g in PROGRESSION_GROUPINGS if g in group_by)


def progression(reports: Reports, team: str | None = None, as_at=None, group_by=None,
                day_mode: str | None = None) -> list[dict]:
    """Per worker and stage, the active episodes as they are now, their days counted to ``as_at``
    (default today): active, median and longest days since allocation, stale, overdue next actions,
    flagged and not yet discussed, and the longest since last discussed."""
    groups = check_groupings(group_by)
    day = reports.as_at(as_at)
    mode = reports._check_mode(day_mode, (day, "as_at"))
    stale = tuple((stage, reports.settings.progression.stale(stage)) for stage in ACTIVE)
    with reports._unit() as uow:
        reports._check_team(uow, team)
        rows = uow.progression.progression(day, groups, stale, mode, team)
    shape = SHAPES["progression"]
    return [shape.row({**row, "median_days_active": one_decimal(row["median_days_active"])}, groups) for row in rows]


def front_door(reports: Reports, team: str | None = None, start=None, end=None, client_group: str | None = None,
               day_mode: str | None = None) -> list[dict]:
    """Per day from ``start`` to ``end`` (default the 28 days to today), the contacts made that day: how
    many, decided so far, decided the same day, median and 90th percentile days to decision, resolved at
    contact and its share (per cent). Days to decision are the front door's days, in its stage's mode."""
    first, last = reports.period(start, end)
    mode = reports._check_modes(day_mode, (first, "from"), (last, "to"), stages=[FRONT_DOOR_STAGE]).of(FRONT_DOOR_STAGE)
    if client_group is not None:
        reports.settings.check_client_group(client_group)
    with reports._unit() as uow:
        reports._check_team(uow, team)
        rows = uow.progression.front_door_report(first, last, mode, team, client_group)
    found = {row["day"]: row for row in rows}
    out = []
    for n in range((last - first).days + 1):  # every day, with zeros where nobody made contact
        day = first + dt.timedelta(days=n)
        row = found.get(day, {})
        contacts = row.get("contacts", 0)
        out.append({"day": day, "contacts": contacts, "decided": row.get("decided", 0),
                    "decided_same_day": row.get("decided_same_day", 0),
                    "median_days_to_decision": one_decimal(row.get("median_days_to_decision")),
                    "p90_days_to_decision": one_decimal(row.get("p90_days_to_decision")),
                    "resolved_at_contact": row.get("resolved_at_contact", 0),
                    "share_resolved_at_contact": one_decimal((100 * row.get("resolved_at_contact", 0), contacts))})
    return out
