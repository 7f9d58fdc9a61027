"""The workforce's use cases: skills, role, FTE and line management; absences and releasing a worker's
people; supervision and its report; and who on duty could take each waiting person.

Each change is checked in full before anything is written, and recorded in the workforce's audit log
with its actor. The rules are pathway.domain.workforce's.
"""

from __future__ import annotations

import datetime as dt

from pathway.domain import days
from pathway.domain import workforce as rules
from pathway.domain.duty import cap_of, is_crisis
from pathway.domain.episode import EpisodeState, Fact, apply
from pathway.errors import Conflict, NotFound, ValidationError
from pathway.services import episodes
from pathway.settings import Settings
from pathway.store.episodes import event_row
from pathway.store.unit import Unit

# -- skills, role, FTE, line management ----------------------------------------------------------


def set_skills(uow: Unit, settings: Settings, worker: str, skills, actor: str, now: dt.datetime) -> dict:
    """Replace the worker's skills."""
    episodes.get_worker(uow, worker, lock=True)
    skills = rules.check_skills(skills, settings.workforce.skills)
    uow.workforce.set_skills(worker, skills)
    uow.workforce.record(worker, "skills", {"skills": skills}, actor, now)
    return profile(uow, worker)


def update(uow: Unit, worker: str, actor: str, now: dt.datetime, *, role: str | None = None,
           fte: float | None = None, line_manager: str | None = None, clear_line_manager: bool = False) -> dict:
    """Change the worker's role, FTE or line manager (each given one is checked, then all are written)."""
    row = episodes.get_worker(uow, worker, lock=True)
    values: dict = {}
    if role is not None:
        values["role"] = rules.check_role(role)
        if role != "manager" and row["role"] == "manager" and any(
                lm == worker for lm in uow.workforce.line_managers().values()):
            raise ValidationError(f"{worker!r} line-manages other workers: give them another line manager "
                                  "before changing this role", field="role")
    if fte is not None:
        values["fte"] = rules.check_fte(fte)
    if line_manager is not None or clear_line_manager:
        if line_manager is not None:
            manager = uow.workforce.line_managers()
            manager_row = uow.episodes.worker(line_manager)
            if manager_row is None:
                raise NotFound(f"no worker {line_manager!r}", field="line_manager")
            rules.check_line_manager(worker, line_manager, manager_row["role"], manager)
        values["line_manager"] = line_manager
    if not values:
        raise ValidationError("nothing to change: give role, fte or line_manager", field="worker")
    uow.workforce.update_worker(worker, values)
    for kind, value in values.items():
        uow.workforce.record(worker, kind, {kind: value}, actor, now)
    return profile(uow, worker)


def profile(uow: Unit, worker: str) -> dict:
    """The worker's workforce record: role, FTE, line manager and skills."""
    row = episodes.get_worker(uow, worker)
    return {"worker": worker, "team": row["team"], "role": row["role"], "fte": row["fte"],
            "line_manager": row["line_manager"], "caseload_cap": row["caseload_cap"],
            "skills": sorted(uow.workforce.skills(worker))}


# -- absences ------------------------------------------------------------------------------------


def add_absence(uow: Unit, settings: Settings, worker: str, start, end, reason: str, actor: str,
                now: dt.datetime) -> dict:
    """Record that ``worker`` is away from ``start`` to ``end`` (London dates, both included)."""
    episodes.get_worker(uow, worker, lock=True)  # one absence at a time per worker: overlaps are seen
    first, last = days.parse_date(start, "start"), days.parse_date(end, "end")
    if first is None or last is None:
        raise ValidationError("an absence has a start and an end (YYYY-MM-DD)",
                              field="start" if first is None else "end")
    rules.check_reason(reason, rules.ABSENCE_REASONS)
    others = [(a["start"], a["end"]) for a in uow.workforce.absences(worker)]
    rules.check_absence(first, last, days.london_date(now), settings.workforce.absence_horizon_days, others)
    row = {"worker": worker, "start": first, "end": last, "reason": reason, "recorded_at": now,
           "recorded_by": actor}
    row["id"] = uow.workforce.add_absence(row)
    uow.workforce.record(worker, "absence", {"id": row["id"], "start": first.isoformat(), "end": last.isoformat(),
                                             "reason": reason}, actor, now)
    return row


def release_all(uow: Unit, worker: str, reason: str, actor: str, now: dt.datetime) -> list[EpisodeState]:
    """Every active episode of ``worker`` back to its queue, in this one unit of work: a ``release``
    event each, with the reason; their wait clocks are not reset."""
    rules.check_reason(reason, rules.RELEASE_REASONS)
    episodes.get_worker(uow, worker, lock=True)  # the worker first, then the episodes: the one lock order
    released = []
    for state in uow.workforce.active_of(worker):
        fact = Fact("release", max(now, state.stage_at), data={"reason": reason})
        new = apply(state, fact)
        event = event_row(state, new, fact, actor, None, None, None, None, now)
        if not uow.episodes.move(state, new, event, now):
            raise Conflict(f"episode {state.id} was changed by someone else; try again", episode_id=state.id)
        released.append(new)
    uow.workforce.record(worker, "release_all", {"reason": reason, "episodes": [s.id for s in released]}, actor, now)
    return released


def reweigh(uow: Unit, settings: Settings, episode_id: int, weight, reason: str, actor: str,
            now: dt.datetime) -> dict:
    """How much an open episode weighs in its worker's caseload (1 unless reweighed), with a reason."""
    state = episodes.load_state(uow, episode_id)
    if state.worker is not None:
        episodes.get_worker(uow, state.worker, lock=True)  # the worker before the episode: one lock order
    band = settings.workforce
    weight = rules.check_weight(weight, band.weight_min, band.weight_max)
    reason = rules.check_text(reason, "reason")
    if state.stage == "closed":
        raise ValidationError(f"episode {episode_id} is closed: only an open episode is reweighed", field="episode_id")
    uow.workforce.set_weight({"episode_id": episode_id, "weight": weight, "reason": reason, "set_at": now,
                              "set_by": actor})
    uow.workforce.record(state.worker or "", "reweigh", {"episode_id": episode_id, "weight": weight,
                                                          "reason": reason}, actor, now)
    return {"episode_id": episode_id, "team": state.team, "worker": state.worker, "weight": weight, "reason": reason}


# -- supervision ---------------------------------------------------------------------------------


def record_supervision(uow: Unit, worker: str, supervisor: str, on, minutes, sampled: bool, actor: str,
                       now: dt.datetime) -> dict:
    """One supervision session of ``worker`` by ``supervisor`` (a manager), on a day not in the future."""
    episodes.get_worker(uow, worker)
    day = days.parse_date(on, "on")
    if day is None:
        raise ValidationError("a supervision has a date, on (YYYY-MM-DD)", field="on")
    rules.check_supervision(day, minutes, days.london_date(now))
    if not isinstance(sampled, bool):
        raise ValidationError("sampled is true or false", field="sampled")
    if supervisor == worker:
        raise ValidationError(f"worker {worker!r} cannot supervise themself", field="supervisor")
    sup = uow.episodes.worker(supervisor)
    if sup is None:
        raise NotFound(f"no worker {supervisor!r}", field="supervisor")
    if sup["role"] != "manager":
        raise ValidationError(f"supervisor {supervisor!r} is not a manager (role {sup['role']!r})",
                              field="supervisor")
    row = {"worker": worker, "supervisor": supervisor, "on": day, "minutes": minutes, "sampled": sampled,
           "recorded_at": now, "recorded_by": actor}
    row["id"] = uow.workforce.add_supervision(row)
    uow.workforce.record(worker, "supervision", {"id": row["id"], "supervisor": supervisor, "on": day.isoformat(),
                                                 "minutes": minutes, "sampled": sampled}, actor, now)
    return row


def supervision_report(uow: Unit, settings: Settings, as_at: dt.date, team: str | None = None,
                       by: str = "worker") -> list[dict]:
    """``by="worker"``: supervisions in the 12 months to ``as_at`` against the standard, the last one, and
    whether one is overdue; ``by="manager"``: each line manager's direct reports against the span of control."""
    if by not in ("worker", "manager"):
        raise ValidationError(f"supervision by {by!r}: use 'worker' or 'manager'", field="by")
    if team is not None:
        episodes.get_team(uow, team)
    standard = settings.workforce
    if by == "manager":
        limit = standard.span_of_control
        return [{**r, "span_limit": limit, "over_span": r["direct_reports"] > limit} for r in uow.workforce.spans(team)]
    overdue_after = rules.supervision_overdue_after(standard.supervision_sessions)
    away = uow.workforce.away_today(as_at)
    out = []
    for r in uow.workforce.supervision_by_worker(as_at, as_at - rules.YEAR, standard.supervision_minutes, team):
        last_full = days.parse_date(r["last_full_session"], "last_full_session")
        out.append({
            "worker": r["worker"], "team": r["team"], "role": r["role"], "line_manager": r["line_manager"],
            "sessions": r["sessions"], "full_sessions": r["full_sessions"], "hours": round(r["minutes"] / 60, 1),
            "sampled": r["sampled"], "last_session": days.parse_date(r["last_session"], "last_session"),
            "standard_sessions": standard.supervision_sessions, "standard_minutes": standard.supervision_minutes,
            "meets_standard": r["full_sessions"] >= standard.supervision_sessions,
            "overdue": last_full is None or as_at - last_full > overdue_after,
            "away": (away.get(r["worker"]) or {}).get("away"),
        })
    return out


# -- who on duty could take each waiting person --------------------------------------------------


def takers(uow: Unit, settings: Settings, team: str, states: list[EpisodeState], now: dt.datetime) -> dict[int, int]:
    """For each waiting episode, how many of the team's workers could take them now: not away, skilled
    for them, and under cap (or it is a crisis that may go over cap)."""
    staff = [w for w in uow.workforce.on_duty(team, days.london_date(now)) if w["away"] is None]
    default_cap, crisis_over_cap = settings.caseload.default_cap, settings.caseload.crisis_over_cap
    weighted = settings.workforce.weighting
    for w in staff:  # the one cap rule's room (pathway.domain.duty.enforce_cap), counted or weighed
        w["free"] = (w["weight"] if weighted else w["load"]) < cap_of(w, default_cap, weighted)
    counted: dict[tuple[str | None, bool], int] = {}
    out = {}
    for s in states:
        need = rules.required_skill(settings.workforce.rules, s.team, s.client_group, s.stage)
        over_ok = crisis_over_cap and is_crisis(s.stage, s.priority)
        key = (need, over_ok)
        if key not in counted:
            counted[key] = sum(1 for w in staff
                               if (need is None or need in w["skills"]) and (w["free"] or over_ok))
        out[s.id] = counted[key]
    return out


def nobody_can_take(settings: Settings, queue: list) -> list[dict]:
    """The waiting people nobody on duty can take now, by client group and stage: the gaps the
    huddle should see (``queue``: episodes marked with ``takers``)."""
    gaps: dict[tuple[str, str], dict] = {}
    for ep in queue:
        if ep.takers == 0:
            need = rules.required_skill(settings.workforce.rules, ep.team, ep.client_group, ep.stage)
            row = gaps.setdefault((ep.client_group, ep.stage), {"client_group": ep.client_group, "stage": ep.stage,
                                                                "skill": need, "waiting": 0})
            row["waiting"] += 1
    return sorted(gaps.values(), key=lambda r: (r["client_group"], r["stage"]))


# -- the library's face: engine.workforce ----------------------------------------------------------


class Workforce:
    """``engine.workforce``: the workforce's use cases, one unit of work each (actor: who made the change)."""

    def __init__(self, engine):
        self.engine = engine

    def _write(self, use_case, *args, actor: str | None = None, **kwargs):
        e = self.engine
        with e.store.unit() as uow:
            return use_case(uow, *args, actor=actor or e.actor, now=e.now(), **kwargs)

    def _read(self, use_case, *args, **kwargs):
        with self.engine.store.unit(write=False) as uow:
            return use_case(uow, *args, **kwargs)

    def set_skills(self, worker: str, skills: list[str], *, actor: str | None = None) -> dict:
        """Replace the worker's skills (each one of ``settings.workforce.skills``)."""
        return self._write(set_skills, self.engine.settings, worker, skills, actor=actor)

    def update(self, worker: str, *, actor: str | None = None, **fields) -> dict:
        """Change ``role`` (practitioner | manager), ``fte`` (0 < fte <= 1) or ``line_manager`` (a manager;
        ``clear_line_manager=True`` removes it)."""
        return self._write(update, worker, actor=actor, **fields)

    def profile(self, worker: str) -> dict:
        return self._read(profile, worker)

    def add_absence(self, worker: str, start, end, reason: str, *, actor: str | None = None) -> dict:
        """The worker is away from ``start`` to ``end`` (dates, both included); ``reason``: leave, sickness,
        training or other."""
        return self._write(add_absence, self.engine.settings, worker, start, end, reason, actor=actor)

    def absences(self, worker: str) -> list[dict]:
        return self._read(lambda uow: (episodes.get_worker(uow, worker), uow.workforce.absences(worker))[1])

    def reweigh(self, episode_id: int, weight: float, reason: str, *, actor: str | None = None) -> dict:
        """Set an open episode's weight in its worker's caseload (settings.workforce.weight_min to weight_max)."""
        return self._write(reweigh, self.engine.settings, episode_id, weight, reason, actor=actor)

    def record_supervision(self, worker: str, supervisor: str, on, minutes: int, sampled: bool = False, *,
                           actor: str | None = None) -> dict:
        return self._write(record_supervision, worker, supervisor, on, minutes, sampled, actor=actor)

    def supervisions(self, worker: str) -> list[dict]:
        return self._read(lambda uow: (episodes.get_worker(uow, worker), uow.workforce.supervisions(worker))[1])

    def log(self, worker: str) -> list[dict]:
        """The worker's workforce audit log, oldest first."""
        return self._read(lambda uow: (episodes.get_worker(uow, worker), uow.workforce.log(worker))[1])

    def supervision_report(self, as_at=None, team: str | None = None, by: str = "worker") -> list[dict]:
        e = self.engine
        day = days.parse_date(as_at, "as_at") if as_at is not None else days.london_date(e.now())
        return self._read(supervision_report, e.settings, day, team, by)
