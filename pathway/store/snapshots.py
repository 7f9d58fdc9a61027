"""Wait tracking's SQL: the daily wait snapshots and the breaches of a threshold, with their alerts.

A snapshot is one set-based ``INSERT … SELECT`` over the waits report's own query (built here
with pathway.store.reports.waits_select), so a snapshot and the live report can never count
differently; a breach is recorded by one ``INSERT … SELECT`` that skips those already recorded, its
days counted by the reports' own day count. The two forms differ only in the dialect whose
``INSERT … ON CONFLICT`` they write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pathway.domain.days import DayModes
from pathway.domain.stages import CLOCKED
from pathway.store.reports import SET_LOCAL, Filters, Terms, stage_day_count, waits_select
from pathway.store.tables import BREACH, EPISODE, EVENT, OUTBOX, SNAPSHOT

# A snapshot row's key (besides its day) and its figures, as the waits report names them.
SNAPSHOT_KEY = ("team", "client_group", "stage")
SNAPSHOT_FIGURES = ("waiting", "median_days", "p90_days", "max_days", "over_threshold")
BREACH_COLUMNS = ["episode_id", "stage", "team", "client_group", "wait_from", "threshold_days", "days_waiting",
                  "detected_on", "detected_at"]


class Snapshots:
    """Wait snapshots and breaches on one connection (SQLite)."""

    insert = staticmethod(sqlite.insert)

    def __init__(self, conn: Connection):
        self.conn = conn

    # snapshots

    def write(self, day: dt.date, terms: Terms, filters: Filters, modes: DayModes, now: dt.datetime,
              today: bool = False) -> int:
        """Write the snapshot rows of ``day`` from the waits report's own query for the day (grouped by
        :data:`SNAPSHOT_KEY`), so a snapshot and the report cannot count differently; returns how many
        rows were written or changed.

        A finished day's rows are only inserted where missing, never rewritten; ``today``'s rows are
        updated where their figures have changed since (and no other row is touched)."""
        waits = waits_select(day, list(SNAPSHOT_KEY), terms, filters, modes).subquery("w")
        source = sa.select(sa.literal(day, sa.Date).label("day"), *(waits.c[k] for k in SNAPSHOT_KEY),
                           *(waits.c[f] for f in SNAPSHOT_FIGURES), sa.literal(now, SNAPSHOT.c.taken_at.type)
                           # SQLite reads "FROM w ON CONFLICT" as a join without a WHERE to end the SELECT.
                           ).where(sa.true())
        columns = ["day", *SNAPSHOT_KEY, *SNAPSHOT_FIGURES, "taken_at"]
        insert = self.insert(SNAPSHOT).from_select(columns, source)
        if today:
            new = insert.excluded
            insert = insert.on_conflict_do_update(
                index_elements=["day", *SNAPSHOT_KEY],
                set_={name: new[name] for name in (*SNAPSHOT_FIGURES, "taken_at")},
                where=sa.or_(*(SNAPSHOT.c[f].is_distinct_from(new[f]) for f in SNAPSHOT_FIGURES)))
        else:
            insert = insert.on_conflict_do_nothing()
        self._analytic()
        return len(self.conn.execute(insert.returning(SNAPSHOT.c.id)).all())

    def _analytic(self) -> None:
        """Get the transaction ready for the waits report's query (the PostgreSQL form tunes it)."""

    def last_day(self, before: dt.date, team: str | None = None) -> dt.date | None:
        """The last day before ``before`` that has a snapshot (of ``team``); None if none has."""
        q = sa.select(sa.func.max(SNAPSHOT.c.day)).where(SNAPSHOT.c.day < before)
        if team is not None:
            q = q.where(SNAPSHOT.c.team == team)
        return self.conn.execute(q).scalar_one()

    def listing(self, day: dt.date | None = None, team: str | None = None) -> list[dict]:
        """Stored snapshot rows (of one day, or all), by day, team, client group and stage."""
        q = sa.select(SNAPSHOT).order_by(SNAPSHOT.c.day, SNAPSHOT.c.team, SNAPSHOT.c.client_group, SNAPSHOT.c.stage)
        if day is not None:
            q = q.where(SNAPSHOT.c.day == day)
        if team is not None:
            q = q.where(SNAPSHOT.c.team == team)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    # breaches

    def add_breaches(self, rules: Sequence[tuple[str, str, int, dt.date]], as_at: dt.date, now: dt.datetime,
                     modes: DayModes, team: str | None = None) -> set[int]:
        """Record a breach for every episode waiting in a rule's stage and client group since its latest
        start or earlier, that has no breach for this wait and threshold yet; returns the new ids.
        ``rules`` are (stage, client group, threshold days, the latest wait start over it by ``as_at``);
        days are counted as the reports count them (each stage in its mode of ``modes``)."""
        pair = (EPISODE.c.stage, EPISODE.c.client_group)
        threshold = sa.case(*((sa.and_(pair[0] == s, pair[1] == g), t) for s, g, t, _ in rules))
        cutoff = sa.case(*((sa.and_(pair[0] == s, pair[1] == g), sa.literal(start)) for s, g, _, start in rules))
        already = (sa.select(BREACH.c.id).where(BREACH.c.episode_id == EPISODE.c.id,
                                                BREACH.c.stage == EPISODE.c.stage,
                                                BREACH.c.wait_from == EPISODE.c.wait_from,
                                                BREACH.c.threshold_days == threshold))
        found = (sa.select(EPISODE.c.id, EPISODE.c.stage, EPISODE.c.team, EPISODE.c.client_group,
                           EPISODE.c.wait_from, threshold,
                           stage_day_count(EVENT.c.wait_from_on, sa.literal(as_at, sa.Date()), EPISODE.c.stage,
                                           modes, CLOCKED),
                           sa.literal(as_at, sa.Date()), sa.literal(now, BREACH.c.detected_at.type))
                 .join(EVENT, sa.and_(EVENT.c.episode_id == EPISODE.c.id, EVENT.c.seq == EPISODE.c.version))
                 .where(EPISODE.c.stage.in_(CLOCKED), EVENT.c.wait_from_on <= cutoff, ~sa.exists(already)))
        if team is not None:
            found = found.where(EPISODE.c.team == team)
        insert = self.insert(BREACH).on_conflict_do_nothing().from_select(BREACH_COLUMNS, found)
        return set(self.conn.execute(insert.returning(BREACH.c.id)).scalars())

    def detected(self, now: dt.datetime) -> list[dict]:
        """The breaches detected at ``now``, each with its episode's person_ref and priority, oldest first."""
        q = (sa.select(BREACH, EPISODE.c.person_ref, EPISODE.c.priority)
             .join(EPISODE, EPISODE.c.id == BREACH.c.episode_id).where(BREACH.c.detected_at == now)
             .order_by(BREACH.c.id))
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def add_alerts(self, rows: list[dict]) -> None:
        """Breach alerts into the outbox, in the breaches' own unit of work."""
        self.conn.execute(OUTBOX.insert(), rows)

    def breaches(self, team: str | None = None) -> list[dict]:
        """Recorded breaches, oldest first."""
        q = sa.select(BREACH).order_by(BREACH.c.id)
        if team is not None:
            q = q.where(BREACH.c.team == team)
        return [dict(r) for r in self.conn.execute(q).mappings()]


class PostgresSnapshots(Snapshots):
    """PostgreSQL: the same statements in PostgreSQL's ``INSERT … ON CONFLICT``; a snapshot's transaction
    runs with the reports' settings (pathway.store.reports.REPORT_SESSION: no JIT compile of its query)."""

    insert = staticmethod(postgresql.insert)

    def _analytic(self) -> None:
        self.conn.exec_driver_sql(SET_LOCAL)
