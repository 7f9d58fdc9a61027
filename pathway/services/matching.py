"""Whether a worker may be allocated a person now: skilled for them (pathway.domain.workforce) and not
away. Every allocation asks this, a claim's as well as a manager's, before anything is written."""

from __future__ import annotations

import datetime as dt

from pathway.domain import days
from pathway.domain.episode import EpisodeState
from pathway.domain.workforce import check_skilled, required_skill
from pathway.errors import Forbidden
from pathway.settings import Settings
from pathway.store.unit import Unit


def away_refusal(worker: str, until=None) -> Forbidden:
    until_text = f" until {until}" if until is not None else ""
    return Forbidden(f"worker {worker!r} is away{until_text}: an absent worker cannot claim or be allocated to",
                     worker=worker)


def load_of(uow: Unit, settings: Settings, worker: str) -> float:
    """The worker's caseload as the cap rule counts it: the weights of their active episodes when
    weighting is configured, else their number."""
    if settings.workforce.weighting:
        return uow.workforce.weighted_load(worker)
    return uow.episodes.caseload(worker)


def check_allocation(uow: Unit, settings: Settings, state: EpisodeState, worker: str, override: str | None,
                     now: dt.datetime, away: bool | None = None) -> None:
    """Forbidden when ``worker`` is away today, or lacks the skill the person needs (unless ``override``,
    a manager's reason, is given). ``away``: whether they are away, when the caller has read it already."""
    if away is None:
        away = uow.workforce.away(worker, days.london_date(now))
    if away:
        raise away_refusal(worker)
    rules = settings.workforce.rules
    need = required_skill(rules, state.team, state.client_group, state.stage) if rules else None
    if need is not None:
        check_skilled(need, uow.workforce.skills(worker), worker, state.id, state.client_group, override)
