"""What the huddle board shows for one team, as one JSON document the page renders and refreshes.

The page draws what this document says and decides nothing: the queue comes in claim order (the
domain's, the order Take next takes people in) with the one Take next would give marked, the
targets beside every figure compared with them, and the words every table and legend use.
"""

from __future__ import annotations

import datetime as dt

from pathway.domain import days
from pathway.domain.duty import cap_of, is_crisis, next_for
from pathway.domain.stages import CLOCKED
from pathway.domain.vocabulary import PRIORITIES
from pathway.domain.workforce import required_skill
from pathway.services import episodes, tray, workforce
from pathway.services.auth import Actor

QUEUE_ROWS = 40  # the head of the queue sent to the page; it shows what fits and says how many more wait
TREND_WEEKS = 8
# The board's words for the engine's keys, in every table, legend and heading alike.
# The board shows only the stages on the clock (the front door and the waits), so a stage is named by
# its conversation.
STAGE_LABELS = {"contact": "Front door", "c1_waiting": "Conversation 1", "c2_waiting": "Conversation 2 (crisis)",
                "c3_waiting": "Conversation 3"}


def label(key: str) -> str:
    return key.replace("_", " ")


def queue_head(engine, team: str, actor: Actor, limit: int = QUEUE_ROWS) -> dict:
    """The head of the team's queue in claim order, with the one Take next gives marked: for a duty
    worker, the one their claim would take (skilled for, by the caseload rule); for a manager, the next one for a
    worker with room. NotFound for an unknown team."""
    settings = engine.settings
    now = engine.now()
    with engine.store.unit(write=False) as uow:
        team_row = episodes.get_team(uow, team)
        states = uow.reports.queue_head(team, limit)
        total, crises = uow.reports.waiting_and_crises(team)
        if actor.role == "duty":
            states_for_me = _takeable(uow, settings, team, actor.worker, states, days.london_date(now))
    modes = settings.day_modes
    if actor.role == "duty":
        chosen = None if states_for_me is None else next_for(*states_for_me, settings.caseload.crisis_over_cap)
    else:  # a worker with room, skilled for anyone
        chosen = next_for(states, 0, 1, settings.caseload.crisis_over_cap)
    rows = []
    for position, s in enumerate(states, start=1):
        waited = s.days_waiting(now, modes)
        target = engine.settings.threshold(s.stage, s.client_group)
        rows.append({"position": position, "episode_id": s.id, "person_ref": s.person_ref,
                     "client_group": s.client_group, "stage": s.stage, "priority": s.priority,
                     "days_waiting": waited, "threshold_days": target,
                     "breach": target is not None and waited is not None and waited > target,
                     "crisis": is_crisis(s.stage, s.priority), "next": chosen is not None and s.id == chosen.id})
    return {"team": team_row, "rows": rows, "total": total, "crises": crises, "more": total - len(rows),
            "next_episode_id": None if chosen is None else chosen.id,
            "next_for": actor.worker if actor.role == "duty" else None}


def _takeable(uow, settings, team: str, worker: str, states: list, today: dt.date) -> tuple | None:
    """What a duty worker's claim of the next chooses among: (the people in ``states`` they are skilled
    for, their load, their cap) as the claim counts them; None for a worker who takes nothing from this
    queue now (no longer of the team, inactive, or away)."""
    claimer = uow.duty.claimer(worker, today)
    if claimer is None or claimer["team"] != team or not claimer["active"] or claimer["away"]:
        return None
    rules = settings.workforce.rules
    if rules:
        skills = uow.workforce.skills(worker)
        states = [s for s in states if required_skill(rules, s.team, s.client_group, s.stage) in (None, *skills)]
    weighted = settings.workforce.weighting
    load = claimer["weighted_load" if weighted else "load"]
    return states, load, cap_of(claimer, settings.caseload.default_cap, weighted)


def trend(engine, team: str, today: dt.date, weeks: int = TREND_WEEKS) -> list[dict]:
    """The team's queue at the end of each of the last ``weeks`` weeks (Monday to Sunday); this week's
    row is as at today, marked ``partial`` until its Sunday."""
    start = today - dt.timedelta(days=today.weekday() + 7 * (weeks - 1))
    rows = engine.reports.trends(group_by=[], period="week", start=start, end=today, team=team)
    out = []
    for r in rows:
        end = days.parse_date(r["period_end"], "period_end")
        out.append({"week_ending": min(end, today).isoformat(), "partial": end > today,
                    "waiting": r["waiting"], "over_threshold": r["over_threshold"] or 0, "allocated": r["allocated"]})
    return out


def forecast(engine, team: str, today: dt.date) -> list[dict]:
    """Per waiting stage: expected days to allocation for someone joining the queue today."""
    return engine.reports.forecast(group_by=["stage"], team=team, as_at=today)


def casework_panels(engine, team: str) -> dict:
    """The board's casework: "for discussion" (flagged, the oldest flag first, with the reason) and
    "standing still" (no event for more than the stage's stale days, or an overdue next action)."""
    now = engine.now()
    with engine.store.unit(write=False) as uow:
        flagged = tray.for_discussion(uow, team)
        still = tray.standing_still(uow, engine.settings, team, days.london_date(now))

    def item(state, last, progress) -> dict:
        work = tray.Casework(**tray.casework(state, last, progress, engine.settings, now)).model_dump(mode="json")
        return {"episode_id": state.id, "person_ref": state.person_ref, "stage": state.stage,
                "worker": state.worker, "client_group": state.client_group, **work}

    return {"for_discussion": [item(*row) for row in flagged], "standing_still": [item(*row) for row in still]}


def targets(engine) -> dict:
    """Per stage on the clock (the front door and the waits), the target days, the day mode they are counted
    in (calendar or working) and the client groups whose target differs."""
    out = {}
    for stage in CLOCKED:
        default = engine.settings.threshold(stage)
        by_group = {g: engine.settings.threshold(stage, g) for g in engine.settings.client_groups}
        out[stage] = {"days": default, "day_mode": engine.settings.day_mode_of(stage),
                      "by_client_group": {g: n for g, n in by_group.items() if n != default}}
    return out


def caseloads(engine, team: str) -> list[dict]:
    """Each worker's caseload against their cap, with the worker's name."""
    names = {w["key"]: w["name"] for w in engine.workers(team)}
    return [{**c, "name": names.get(c["worker"], c["worker"])} for c in engine.caseloads(team)]


def board_data(engine, team: str, actor: Actor) -> dict:
    """Everything the board shows for ``team``, as the viewer ``actor`` sees it."""
    queue = queue_head(engine, team, actor)
    today = days.london_date(engine.now())
    waits = engine.reports.waits(group_by=["client_group", "stage"], team=team, as_at=today)
    return {
        "team": team, "team_name": queue["team"]["name"], "as_at": today.isoformat(),
        "generated_at": engine.now().astimezone(days.LONDON).isoformat(timespec="seconds"),
        "viewer": {"role": actor.role, "worker": actor.worker, "can_take_next": actor.role == "duty"},
        "stages": list(CLOCKED), "client_groups": list(engine.settings.client_groups),
        "labels": {"stages": STAGE_LABELS, "priorities": {p: label(p) for p in PRIORITIES},
                   "client_groups": {g: label(g) for g in engine.settings.client_groups}},
        "targets": targets(engine),
        "waits": waits,
        "waiting_total": queue["total"], "crises_total": queue["crises"],
        "over_threshold_total": sum(r["over_threshold"] or 0 for r in waits),
        "queue": queue["rows"], "queue_more": queue["more"],
        "next_episode_id": queue["next_episode_id"], "next_for": queue["next_for"],
        "caseloads": caseloads(engine, team),
        # Waiting people whom no worker present today, skilled for them and with room, could take.
        "nobody_can_take": workforce.nobody_can_take(engine.settings, engine.queue(team)),
        "trend": trend(engine, team, today),
        "forecast": forecast(engine, team, today),
        **casework_panels(engine, team),
        "can_record_discussion": actor.role == "manager",
    }
