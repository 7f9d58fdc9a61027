"""Property: the audit sample and the audits report equal a plain-Python computation from the episodes,
the samples drawn and the audits recorded, for random small councils, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from pathway.domain import days
from pathway.store.tables import AUDIT, AUDIT_SAMPLE, AUDIT_SAMPLED, EPISODE

NOW = dt.datetime(2026, 9, 30, 16, 0, tzinfo=dt.UTC)
FIRST = dt.date(2026, 1, 1)
QUARTERS = [(dt.date(2026, 1, 1), dt.date(2026, 3, 31)), (dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
            (dt.date(2026, 7, 1), dt.date(2026, 9, 30))]
RATINGS = ["outstanding", "good", "requires_improvement", "inadequate"]

episode_plan = st.tuples(st.sampled_from(["north", "south"]), st.integers(0, 5), st.integers(0, 250),
                         st.one_of(st.none(), st.integers(0, 60)))  # team, person, contact day, closed after
audit_plan = st.tuples(st.integers(0, 14), st.sampled_from(RATINGS), st.integers(0, 260))
sample_plan = st.tuples(st.integers(0, 2), st.sampled_from([0.1, 0.25, 0.5, 1.0]), st.integers(0, 5),
                        st.sampled_from([None, "team", "client_group,team"]))


def clear(engine) -> None:
    with engine.transaction() as conn:
        for table in ("audit", "audit_sampled", "audit_sample", "outbox", "event", "episode", "worker", "team"):
            conn.execute(sa.text(f"DELETE FROM {table}"))


def opened(ep, first: dt.date, last: dt.date) -> bool:
    """Active or closed in [first, last]: contact made by the last day, not closed before the first."""
    return days.london_date(ep.contact_at) <= last and (ep.closed_at is None or days.london_date(ep.closed_at) >= first)


@examples(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(plan=st.lists(episode_plan, min_size=1, max_size=15), samples=st.lists(sample_plan, max_size=3),
       audits=st.lists(audit_plan, max_size=12))
def test_audits_equal_a_plain_computation(engine, clock, plan, samples, audits):
    clock.set(NOW)
    clear(engine)
    for team in ("north", "south"):
        engine.create_team(team, team.title())
    ids = []
    for team, person, day, closed_after in plan:
        at = dt.datetime.combine(FIRST + dt.timedelta(days=day), dt.time(10), tzinfo=dt.UTC)
        ep = engine.record_contact(f"P-{person}", "mental_health" if person % 2 else "unknown", team,
                                   occurred_at=at).id
        if closed_after is not None and at + dt.timedelta(days=closed_after) <= NOW:
            engine.fire(ep, "close", outcome="declined", occurred_at=at + dt.timedelta(days=closed_after))
        ids.append(ep)
    for quarter, rate, seed, stratify in samples:
        a, b = QUARTERS[quarter]
        drawn = engine.audit_sample(a, b, rate, seed=seed, stratify=stratify)
        with engine.transaction(write=False) as conn:
            episodes = {r.id: r for r in conn.execute(sa.select(EPISODE))}
        population = [e for e in episodes.values() if opened(e, a, b)]
        keys = (stratify or "").split(",") if stratify else []
        strata = defaultdict(int)
        for e in population:
            strata[tuple(getattr(e, k) for k in keys)] += 1
        assert drawn["population"] == len(population)
        assert drawn["sampled"] == sum(min(n, math.ceil(rate * n)) for n in strata.values())
        assert {r["episode_id"] for r in drawn["episodes"]} <= {e.id for e in population}
    for which, rating, day in audits:
        ep = ids[which % len(ids)]
        on = FIRST + dt.timedelta(days=day)
        state = engine.get(ep)
        if on < days.london_date(state.contact_at) or on > days.london_date(NOW):
            continue
        engine.record_audit(ep, rating, auditor="a", audited_on=on, reason="review")
    with engine.transaction(write=False) as conn:
        episodes = {r.id: r for r in conn.execute(sa.select(EPISODE))}
        recorded = [dict(r) for r in conn.execute(sa.select(AUDIT)).mappings()]
        sampled = [dict(r) for r in conn.execute(
            sa.select(AUDIT_SAMPLED.c.episode_id, AUDIT_SAMPLE.c.period_from)
            .join(AUDIT_SAMPLE, AUDIT_SAMPLE.c.id == AUDIT_SAMPLED.c.sample_id)).mappings()]
    rows = engine.reports.audits(start="2026-01-01", end="2026-09-30")
    for row in rows:
        a, b = row["period_start"], row["period_end"]
        a = a if isinstance(a, dt.date) else dt.date.fromisoformat(str(a))
        b = b if isinstance(b, dt.date) else dt.date.fromisoformat(str(b))
        team = row["team"]
        mine = [x for x in recorded if a <= x["audited_on"] <= b and episodes[x["episode_id"]].team == team]
        good = sum(x["rating"] in ("outstanding", "good") for x in mine)
        served = {e.person_ref for e in episodes.values() if e.team == team and opened(e, a, b)}
        drawn = {s["episode_id"] for s in sampled if a <= s["period_from"] <= b
                 and episodes[s["episode_id"]].team == team}
        assert (row["audited"], row["good_or_better"], row["served"], row["sampled"],
                row["in_sample"]) == (len(mine), good, len(served), len(drawn), sum(x["in_sample"] for x in mine))
        assert row["good_or_better_pct"] == (round(100 * good / len(mine) + 1e-9, 1) if mine else None)
