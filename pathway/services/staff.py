"""Teams and their workers as a team manager keeps them: the staff list with caseloads against caps, and
a worker's changes (cap, team, active), each recording who made it and when. Making a team or a worker
is pathway.services.episodes' (``create_team``, ``create_worker``)."""

from __future__ import annotations

import datetime as dt

from pathway.domain import checks
from pathway.errors import Conflict, ValidationError
from pathway.services import duty, episodes
from pathway.settings import Settings
from pathway.store.unit import Unit

# What a worker looks like in the staff list (GET /workers, pathway staff list), in this order.
STAFF_FIELDS = ("key", "name", "team", "active", "caseload", "cap", "free", "over_cap", "caseload_cap",
                "created_at", "created_by", "updated_at", "updated_by")


def staff(uow: Unit, settings: Settings, team: str | None = None) -> list[dict]:
    """Every worker (of ``team``), by team and key, with their caseload and cap (``caseload_cap`` is their
    own cap, None when they have the configured default)."""
    loads = {row["worker"]: row for row in duty.caseloads(uow, settings, team)}
    out = []
    for worker in uow.episodes.workers(team):
        load = loads[worker["key"]]
        row = {**worker, **{k: load[k] for k in ("caseload", "cap", "free", "over_cap")}}
        out.append({k: row.get(k) for k in STAFF_FIELDS})
    return out


def update_worker(uow: Unit, settings: Settings, key: str, *, actor: str, now: dt.datetime,
                  caseload_cap: int | None = None, default_cap: bool = False, team: str | None = None,
                  active: bool | None = None) -> dict:
    """Change a worker: their own caseload cap (or ``default_cap`` to go back to the configured one), their
    team, whether they are active. A move to another team is refused while they hold active episodes (those
    stay in their team's queue: release them first). Returns the worker as the staff list shows them."""
    worker = episodes.get_worker(uow, key, lock=True)
    if caseload_cap is not None and default_cap:
        raise ValidationError("give a caseload cap or ask for the default one, not both", field="caseload_cap")
    if caseload_cap is None and not default_cap and team is None and active is None:
        raise ValidationError("nothing to change: give a caseload cap, a team or whether the worker is active",
                              field="worker")
    values: dict = {}
    if caseload_cap is not None or default_cap:
        values["caseload_cap"] = checks.check_caseload_cap(caseload_cap)
    if team is not None and team != worker["team"]:
        episodes.get_team(uow, team)
        held = uow.episodes.caseload(key)
        if held:
            raise Conflict(f"worker {key!r} holds {held} active episode{'s' if held != 1 else ''} in team "
                           f"{worker['team']!r}; release them (or close them) before moving to team {team!r}",
                           worker=key, caseload=held)
        values["team"] = team
    if active is not None:
        values["active"] = active
    uow.episodes.update_worker(key, {**values, "updated_at": now, "updated_by": actor})
    (row,) = [w for w in staff(uow, settings, values.get("team", worker["team"])) if w["key"] == key]
    return row

