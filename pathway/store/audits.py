"""Case-file audits' SQL: the episodes a sample is drawn from, the samples drawn, the audits recorded,
and the audits report (sampled, audited, people served, rated good or better, by quarter and team)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain import days
from pathway.domain.scrutiny import GOOD_OR_BETTER
from pathway.store.reports import const, date_param, periods_table
from pathway.store.tables import AUDIT, AUDIT_SAMPLE, AUDIT_SAMPLED, EPISODE, TEAM


def _open_during(first: dt.date, last: dt.date, episode=EPISODE):
    """An episode active or closed in [first, last] (London dates): contact made by the end of
    ``last`` and not closed before ``first`` began."""
    since = days.parse_time(first)
    until = days.parse_time(last + dt.timedelta(days=1))
    return sa.and_(episode.c.contact_at < until, sa.or_(episode.c.closed_at.is_(None), episode.c.closed_at >= since))


COUNCIL = "council"  # the team column of a report for the whole council


def _team_of(whole: bool):
    return sa.literal_column(f"'{COUNCIL}'", sa.String()) if whole else EPISODE.c.team


def _team_grid(agg, periods, measures, team: str | None, whole: bool = False):
    if whole:
        teams = sa.select(sa.literal_column(f"'{COUNCIL}'", sa.String()).label("team"))
    else:
        teams = sa.select(TEAM.c.key.label("team"))
        if team is not None:
            teams = teams.where(TEAM.c.key == team)
    teams = teams.subquery("team_dim")
    on = sa.and_(agg.c.period_start == periods.c.period_start, agg.c.team == teams.c.team)
    return (sa.select(periods.c.period_start, periods.c.period_end, teams.c.team,
                      *(sa.func.coalesce(agg.c[m], const(0)).label(m) for m in measures))
            .select_from(periods.join(teams, sa.true()).outerjoin(agg, on))
            .order_by(periods.c.ord, teams.c.team))


def served_select(spans, team: str | None = None, whole: bool = False):
    """People served: distinct people with an episode of the team active or closed in each period.
    One SELECT per period (quarters: a handful), so each reads the episodes through their own bounds."""
    periods = periods_table(spans)
    parts = []
    for a, b, _ in spans:
        q = (sa.select(date_param(a).label("period_start"), _team_of(whole).label("team"),
                       sa.func.count(sa.distinct(EPISODE.c.person_ref)).label("served"))
             .where(_open_during(a, b)))
        if not whole:
            q = q.group_by(EPISODE.c.team)
        if team is not None:
            q = q.where(EPISODE.c.team == team)
        parts.append(q)
    agg = (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("agg")
    return _team_grid(agg, periods, ["served"], team, whole)


def audited_select(spans, team: str | None = None, whole: bool = False):
    """Audits recorded per period (of the audit's date) and team: audited, rated good or better,
    and how many of them were of sampled episodes."""
    periods = periods_table(spans)
    good = sa.case((AUDIT.c.rating.in_([sa.literal(r, sa.String()) for r in GOOD_OR_BETTER]), const(1)),
                   else_=const(0))
    q = (sa.select(periods.c.period_start, _team_of(whole).label("team"), sa.func.count().label("audited"),
                   sa.func.sum(good).label("good_or_better"),
                   sa.func.sum(sa.case((AUDIT.c.in_sample.is_(True), const(1)), else_=const(0))).label("in_sample"))
         .select_from(AUDIT.join(EPISODE, EPISODE.c.id == AUDIT.c.episode_id)
                      .join(periods, sa.and_(AUDIT.c.audited_on >= periods.c.period_start,
                                             AUDIT.c.audited_on <= periods.c.period_end)))
         .group_by(periods.c.period_start, *([] if whole else [EPISODE.c.team])))
    if team is not None:
        q = q.where(EPISODE.c.team == team)
    return _team_grid(q.subquery("agg"), periods, ["audited", "good_or_better", "in_sample"], team, whole)


def sampled_select(spans, team: str | None = None, whole: bool = False):
    """Episodes drawn per period (of the sample's first day) and team (each episode once a period)."""
    periods = periods_table(spans)
    q = (sa.select(periods.c.period_start, _team_of(whole).label("team"),
                   sa.func.count(sa.distinct(AUDIT_SAMPLED.c.episode_id)).label("sampled"))
         .select_from(AUDIT_SAMPLED.join(AUDIT_SAMPLE, AUDIT_SAMPLE.c.id == AUDIT_SAMPLED.c.sample_id)
                      .join(EPISODE, EPISODE.c.id == AUDIT_SAMPLED.c.episode_id)
                      .join(periods, sa.and_(AUDIT_SAMPLE.c.period_from >= periods.c.period_start,
                                             AUDIT_SAMPLE.c.period_from <= periods.c.period_end)))
         .group_by(periods.c.period_start, *([] if whole else [EPISODE.c.team])))
    if team is not None:
        q = q.where(EPISODE.c.team == team)
    return _team_grid(q.subquery("agg"), periods, ["sampled"], team, whole)


class Audits:
    """Samples and audits on one connection (the same SQL on both databases)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def population(self, first: dt.date, last: dt.date) -> list[dict]:
        """Every episode active or closed in [first, last]: id, client group and team, by id."""
        q = (sa.select(EPISODE.c.id, EPISODE.c.client_group, EPISODE.c.team)
             .where(_open_during(first, last)).order_by(EPISODE.c.id))
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def find_sample(self, first: dt.date, last: dt.date, rate: float, stratify: str, seed: int) -> dict | None:
        q = sa.select(AUDIT_SAMPLE).where(AUDIT_SAMPLE.c.period_from == first, AUDIT_SAMPLE.c.period_to == last,
                                          AUDIT_SAMPLE.c.rate == rate, AUDIT_SAMPLE.c.stratify == stratify,
                                          AUDIT_SAMPLE.c.seed == seed)
        row = self.conn.execute(q).mappings().first()
        return None if row is None else dict(row)

    def add_sample(self, row: dict, drawn: list[tuple[int, str]]) -> int:
        sample_id = self.conn.execute(AUDIT_SAMPLE.insert().values(**row).returning(AUDIT_SAMPLE.c.id)).scalar_one()
        if drawn:
            self.conn.execute(AUDIT_SAMPLED.insert(), [{"sample_id": sample_id, "episode_id": e, "stratum": s}
                                                       for e, s in drawn])
        return sample_id

    def sampled(self, sample_id: int) -> list[dict]:
        q = (sa.select(AUDIT_SAMPLED.c.episode_id, AUDIT_SAMPLED.c.stratum, EPISODE.c.person_ref,
                       EPISODE.c.client_group, EPISODE.c.team)
             .select_from(AUDIT_SAMPLED.join(EPISODE, EPISODE.c.id == AUDIT_SAMPLED.c.episode_id))
             .where(AUDIT_SAMPLED.c.sample_id == sample_id)
             .order_by(AUDIT_SAMPLED.c.stratum, AUDIT_SAMPLED.c.episode_id))
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def is_sampled(self, episode_id: int) -> bool:
        q = sa.select(AUDIT_SAMPLED.c.sample_id).where(AUDIT_SAMPLED.c.episode_id == episode_id).limit(1)
        return self.conn.execute(q).first() is not None

    def add_audit(self, row: dict) -> int:
        return self.conn.execute(AUDIT.insert().values(**row).returning(AUDIT.c.id)).scalar_one()

    def audits(self, episode_id: int | None = None) -> list[dict]:
        q = sa.select(AUDIT).order_by(AUDIT.c.id)
        if episode_id is not None:
            q = q.where(AUDIT.c.episode_id == episode_id)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def report(self, spans, team: str | None = None, whole: bool = False) -> list[dict]:
        """Per period and team (or the ``whole`` council): sampled, audited (with good or better and in
        sample), people served."""
        sampled = self.conn.execute(sampled_select(spans, team, whole)).mappings().all()
        audited = self.conn.execute(audited_select(spans, team, whole)).mappings().all()
        served = self.conn.execute(served_select(spans, team, whole)).mappings().all()
        return [{**dict(a), **dict(b), "served": c["served"]} for a, b, c in zip(sampled, audited, served, strict=True)]
