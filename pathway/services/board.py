"""What the huddle board shows for one team, as one JSON document the page renders and refreshes."""

from __future__ import annotations

import datetime as dt

from pathway.domain import days
from pathway.domain.duty import is_crisis
from pathway.domain.stages import CLOCKED
from pathway.services import episodes, tray, workforce
from pathway.services.auth import Actor

LONGEST = 15  # people listed by name of reference on the board
TREND_WEEKS = 8


def longest_waiting(engine, team: str, limit: int = LONGEST) -> tuple[dict, list[dict], int, int]:
    """The team's row, and its waiting people, crises first and then the longest waits:
    (team, rows, everyone waiting, crises waiting). NotFound for an unknown team."""
    with engine.store.unit(write=False) as uow:
        team_row = episodes.get_team(uow, team)
        states = uow.reports.longest_waiting(team, limit)
        total, crises = uow.reports.waiting_and_crises(team)
    now = engine.now()
    mode = engine.settings.day_mode
    out = []
    for s in states:
        waited = s.days_waiting(now, mode)
        limit_days = engine.settings.threshold(s.stage, s.client_group)
        out.append({"episode_id": s.id, "person_ref": s.person_ref, "client_group": s.client_group,
                    "stage": s.stage, "priority": s.priority, "days_waiting": waited,
                    "threshold_days": limit_days,
                    "breach": limit_days is not None and waited is not None and waited > limit_days,
                    "crisis": is_crisis(s.stage, s.priority)})
    return team_row, out, total, crises


def trend(engine, team: str, today: dt.date, weeks: int = TREND_WEEKS) -> list[dict]:
    """The team's queue at the end of each of the last ``weeks`` weeks (Monday to Sunday; this week so far)."""
    start = today - dt.timedelta(days=today.weekday() + 7 * (weeks - 1))
    rows = engine.reports.trends(group_by=[], period="week", start=start, end=today, team=team)
    return [{"week_ending": min(days.parse_date(r["period_end"], "period_end"), today).isoformat(),
             "waiting": r["waiting"], "over_threshold": r["over_threshold"] or 0, "allocated": r["allocated"]}
            for r in rows]


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
        work = tray.casework(state, last, progress, engine.settings, now).model_dump(mode="json")
        return {"episode_id": state.id, "person_ref": state.person_ref, "stage": state.stage,
                "worker": state.worker, "client_group": state.client_group, **work}

    return {"for_discussion": [item(*row) for row in flagged], "standing_still": [item(*row) for row in still]}


def board_data(engine, team: str, actor: Actor) -> dict:
    """Everything the board shows for ``team``, as the viewer ``actor`` sees it."""
    team_row, people, total, crises = longest_waiting(engine, team)
    today = days.london_date(engine.now())
    waits = engine.reports.waits(group_by=["client_group", "stage"], team=team, as_at=today)
    thresholds = {stage: engine.settings.threshold(stage) for stage in CLOCKED}
    return {
        "team": team, "team_name": team_row["name"], "as_at": today.isoformat(),
        "generated_at": engine.now().astimezone(days.LONDON).isoformat(timespec="seconds"),
        "viewer": {"role": actor.role, "worker": actor.worker, "can_take_next": actor.role == "duty"},
        "stages": list(CLOCKED), "client_groups": list(engine.settings.client_groups),
        "thresholds": thresholds,
        "waits": waits,
        "waiting_total": total, "crises_total": crises,
        "over_threshold_total": sum(r["over_threshold"] or 0 for r in waits),
        "longest": people,
        "caseloads": engine.caseloads(team),
        # Waiting people whom no worker present today, skilled for them and with room, could take.
        "nobody_can_take": workforce.nobody_can_take(engine.settings, engine.queue(team)),
        "trend": trend(engine, team, today),
        "forecast": forecast(engine, team, today),
        **casework_panels(engine, team),
        "can_record_discussion": actor.role == "manager",
    }
