"""The workforce's rules: who may take whom (skills), who is away (absences), line management and the
supervision standard. Plain Python: the store builds the claim's skill test from :func:`ordered`.

A skill rule is a tuple ``(client_group, skill, team, stage)``; ``team`` and ``stage`` may be None
(any team, any waiting stage). For one episode the most specific matching rule decides the skill
it needs: team and stage, then team, then stage, then council-wide.
"""

from __future__ import annotations

import datetime as dt

from pathway.errors import Forbidden, ValidationError

Rule = tuple[str, str, str | None, str | None]

ROLES = ("practitioner", "manager")
ABSENCE_REASONS = ("leave", "sickness", "training", "other")
# Why a worker's people go back to the queue all at once: an absence's category, or their leaving.
RELEASE_REASONS = (*ABSENCE_REASONS, "leaving", "rebalancing")
FTE_RANGE = (0.0, 1.0)  # exclusive of 0, inclusive of 1
MAX_SUPERVISION_MINUTES = 8 * 60
YEAR = dt.timedelta(days=365)


def ordered(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """The rules, most specific first: the first that matches an episode decides its skill."""
    return tuple(sorted(rules, key=lambda r: (r[2] is None, r[3] is None)))


def required_skill(rules: tuple[Rule, ...], team: str, client_group: str, stage: str) -> str | None:
    """The skill a worker needs to take this person, or None when anyone may."""
    for group, skill, rule_team, rule_stage in ordered(rules):
        if group == client_group and rule_team in (None, team) and rule_stage in (None, stage):
            return skill
    return None


def check_skilled(required: str | None, skills: set[str] | frozenset[str], worker: str, episode_id: int | None,
                  client_group: str, override: str | None) -> None:
    """Forbidden, naming the skill, when the worker lacks the skill the person needs, unless a manager
    overrides with a reason."""
    if required is None or required in skills or override:
        return
    raise Forbidden(f"worker {worker!r} does not have the skill {required!r} that episode {episode_id} "
                    f"({client_group}) needs; a manager may allocate with an override reason",
                    worker=worker, skill=required, episode_id=episode_id)


def check_skills(skills, known: list[str]) -> list[str]:
    if not isinstance(skills, list | tuple) or not all(isinstance(s, str) for s in skills):
        raise ValidationError("skills is a list of skill names", field="skills")
    unknown = [s for s in skills if s not in known]
    if unknown:
        raise ValidationError(f"unknown skill {unknown[0]!r}; skills are: {', '.join(known)}", field="skills")
    return sorted(set(skills))


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"unknown worker role {role!r}; roles are: {', '.join(ROLES)}", field="role")
    return role


def check_fte(fte) -> float:
    if isinstance(fte, bool) or not isinstance(fte, int | float) or not FTE_RANGE[0] < fte <= FTE_RANGE[1]:
        raise ValidationError(f"fte must be a number above 0 and at most 1 (e.g. 0.6 for three days a week), "
                              f"not {fte!r}", field="fte")
    return float(fte)


def check_reason(reason: str, allowed: tuple[str, ...], field: str = "reason") -> str:
    if reason not in allowed:
        raise ValidationError(f"unknown reason {reason!r}; reasons are: {', '.join(allowed)} "
                              "(a category only: no medical detail)", field=field)
    return reason


def check_absence(start: dt.date, end: dt.date, today: dt.date, horizon_days: int,
                  others: list[tuple[dt.date, dt.date]]) -> None:
    """An absence runs from ``start`` to ``end`` (London dates, both included)."""
    if end < start:
        raise ValidationError(f"the absence ends ({end}) before it starts ({start})", field="end")
    latest = today + dt.timedelta(days=horizon_days)
    if start > latest:
        raise ValidationError(f"the absence starts {start}, more than {horizon_days} days ahead "
                              f"(the latest start is {latest})", field="start")
    for other_start, other_end in others:
        if start <= other_end and other_start <= end:
            raise ValidationError(f"the absence {start} to {end} overlaps another of the same worker "
                                  f"({other_start} to {other_end})", field="start")


def check_line_manager(worker: str, manager: str | None, manager_role: str | None,
                       line_managers: dict[str, str | None]) -> None:
    """``manager`` may line-manage ``worker``: a manager, not the worker, and no cycle
    (``line_managers``: every worker's current line manager)."""
    if manager is None:
        return
    if manager == worker:
        raise ValidationError(f"worker {worker!r} cannot be their own line manager", field="line_manager")
    if manager_role != "manager":
        raise ValidationError(f"{manager!r} is not a manager (role {manager_role!r}); a line manager is a "
                              "worker with role 'manager'", field="line_manager")
    seen, up = {worker}, manager
    while up is not None:
        if up in seen:
            raise ValidationError(f"making {manager!r} the line manager of {worker!r} would make a cycle "
                                  f"of line management", field="line_manager")
        seen.add(up)
        up = line_managers.get(up)


def check_weight(weight, low: float, high: float) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not low <= weight <= high:
        raise ValidationError(f"weight must be a number from {low:g} to {high:g} (1 is an ordinary case), "
                              f"not {weight!r}", field="weight")
    return float(weight)


def check_text(value, field: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationError(f"{field} is required: 1-{limit} characters", field=field)
    return value.strip()


def check_supervision(on: dt.date, minutes, today: dt.date) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= MAX_SUPERVISION_MINUTES:
        raise ValidationError(f"minutes must be a whole number from 1 to {MAX_SUPERVISION_MINUTES}, not {minutes!r}",
                              field="minutes")
    if on > today:
        raise ValidationError(f"a supervision on {on} is in the future (today is {today})", field="on")
    return minutes


def supervision_overdue_after(sessions: int) -> dt.timedelta:
    """A worker whose last full-length supervision is older than this is overdue: a year shared
    evenly between the sessions the standard asks for (8 a year: 45 days)."""
    return dt.timedelta(days=YEAR.days // sessions)
