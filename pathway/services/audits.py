"""Case-file audits: a reproducible stratified sample of the episodes of a period, audits recorded
against it, and the audits report (coverage and the share rated good or better, by quarter)."""

from __future__ import annotations

import datetime as dt

from pathway.domain import days, scrutiny
from pathway.errors import Forbidden, NotFound, ValidationError
from pathway.services.reports import Shape, one_decimal
from pathway.store.unit import Unit

PCT = float | None
SHAPE = Shape({"quarter": str, "period_start": dt.date, "period_end": dt.date, "team": str}, (),
              {"sampled": int, "audited": int, "in_sample": int, "served": int, "coverage_pct": PCT,
               "good_or_better": int, "good_or_better_pct": PCT, "good_or_better_low": PCT,
               "good_or_better_high": PCT, "change_pct_points": PCT})
BY = ("team", "council")
MAX_SEED = 2**31 - 1
REASON_LENGTH = 1000


def check_seed(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ValidationError(f"seed must be a whole number from 0 to {MAX_SEED}, not {value!r}", field="seed")
    return value


def sample(uow: Unit, start, end, rate, stratify, seed, *, actor: str, now: dt.datetime) -> dict:
    """Draw (or find again: the same arguments give the same sample) a stratified sample of the
    episodes active or closed from ``start`` to ``end``."""
    first, last = days.parse_date(start, "from"), days.parse_date(end, "to")
    if first is None or last is None:
        raise ValidationError("a sample needs a period: give from and to", field="from")
    if first > last:
        raise ValidationError(f"from {first} is after to {last}; from must be on or before to", field="from")
    rate = scrutiny.check_rate(rate)
    strata = scrutiny.check_stratify(stratify)
    seed = check_seed(seed)
    key = ",".join(strata)
    found = uow.audits.find_sample(first, last, rate, key, seed)
    if found is None:
        population = uow.audits.population(first, last)
        drawn = scrutiny.draw([(p["id"], tuple(p[s] for s in strata)) for p in population], rate, seed)
        row = {"period_from": first, "period_to": last, "rate": rate, "stratify": key, "seed": seed,
               "population": len(population), "drawn_at": now, "drawn_by": actor}
        row["id"] = uow.audits.add_sample(row, [(e, "/".join(s) or "all") for e, s in drawn])
        found = row
    episodes = uow.audits.sampled(found["id"])
    return {"sample_id": found["id"], "from": found["period_from"], "to": found["period_to"], "rate": found["rate"],
            "stratify": found["stratify"].split(",") if found["stratify"] else [], "seed": found["seed"],
            "population": found["population"], "sampled": len(episodes), "drawn_at": found["drawn_at"],
            "drawn_by": found["drawn_by"], "episodes": episodes}


def record(uow: Unit, episode_id: int, rating: str, *, auditor: str, audited_on=None, themes=None,
           reason: str | None = None, team: str | None = None, actor: str, now: dt.datetime) -> dict:
    """Record a case-file audit of an episode. An episode outside every sample needs a ``reason``;
    ``team``: the caller may audit only that team's episodes (a manager)."""
    rating = scrutiny.check_rating(rating)
    themes = scrutiny.check_themes(themes)
    if not isinstance(auditor, str) or not 1 <= len(auditor.strip()) <= 200:
        raise ValidationError("auditor is who audited the case file (1-200 characters)", field="auditor")
    state = uow.episodes.load_state(episode_id)
    if state is None:
        raise NotFound(f"no episode {episode_id}", episode_id=episode_id)
    if team is not None and state.team != team:
        raise Forbidden(f"episode {episode_id} is in team {state.team!r}; a manager of {team!r} audits "
                        "their own team's case files", role="manager", team=team)
    today = days.london_date(now)
    on = days.parse_date(audited_on, "audited_on") if audited_on is not None else today
    if on > today:
        raise ValidationError(f"audited_on {on} is in the future (today is {today})", field="audited_on")
    if on < days.london_date(state.contact_at):
        raise ValidationError(f"audited_on {on} is before the episode's contact "
                              f"({days.london_date(state.contact_at)}); an audit reads a case file that exists",
                              field="audited_on")
    in_sample = uow.audits.is_sampled(episode_id)
    if reason is not None and (not reason.strip() or len(reason) > REASON_LENGTH):
        raise ValidationError(f"reason is 1-{REASON_LENGTH} characters", field="reason")
    if not in_sample and reason is None:
        raise ValidationError(f"episode {episode_id} is not in any audit sample; an audit outside the sample "
                              "needs a reason", field="reason")
    row = {"episode_id": episode_id, "rating": rating, "auditor": auditor.strip(), "audited_on": on,
           "themes": themes, "in_sample": in_sample, "reason": reason, "recorded_at": now, "recorded_by": actor}
    row["id"] = uow.audits.add_audit(row)
    return row


def quarter_spans(first: dt.date, last: dt.date, today: dt.date) -> list[tuple[dt.date, dt.date, dt.date]]:
    """The calendar quarters covering [first, last], and the one before (for the change)."""
    start = dt.date(first.year, 3 * ((first.month - 1) // 3) + 1, 1)
    start = _add_months(start, -3)
    spans = []
    while start <= last:
        nxt = _add_months(start, 3)
        end = nxt - dt.timedelta(days=1)
        spans.append((start, end, min(end, today)))
        start = nxt
    return spans


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def quarter_name(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def report(reports, start=None, end=None, team: str | None = None, by: str | None = "team") -> list[dict]:
    by = by or "team"
    if by not in BY:
        raise ValidationError(f"audits by {by!r}: use 'team' or 'council'", field="by")
    first, last = reports.period(start, end, default_days=365)
    spans = quarter_spans(first, last, reports.today())
    with reports._unit() as uow:
        reports._check_team(uow, team)
        rows = uow.audits.report(spans, team, whole=by == "council")
    previous: dict[str, float | None] = {}
    out = []
    for row in rows:
        r = scrutiny.rate(row["good_or_better"], row["audited"])
        before = previous.get(row["team"])
        previous[row["team"]] = r["pct"]
        if row["period_start"] == spans[0][0] or _date(row["period_start"]) == spans[0][0]:
            continue  # the quarter before the period: only its share, for the change
        change = None if r["pct"] is None or before is None else one_decimal(r["pct"] - before)
        out.append(SHAPE.row({**row, "quarter": quarter_name(_date(row["period_start"])),
                              "coverage_pct": scrutiny.share(row["audited"], row["served"]),
                              "good_or_better_pct": r["pct"], "good_or_better_low": r["low"],
                              "good_or_better_high": r["high"], "change_pct_points": change}, ()))
    return out


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
