"""The working-day calendar as a table, so reports count working days in SQL as a difference of indexes.

``calendar_day`` holds one row per date from FIRST_DAY to LAST_DAY: whether it is a working day
(a weekday that is not an England and Wales bank holiday, as pathway.domain.days says) and
``working_index``, the number of working days from FIRST_DAY up to and including it. The working
days in (start, end] are then ``index(end) - index(start)``, the same count as
``pathway.domain.days.days_between(start, end, "working")``.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain import days
from pathway.store.tables import CALENDAR

FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2060, 12, 31)






@lru_cache(maxsize=4)
def calendar_rows(first: dt.date = FIRST_DAY, last: dt.date = LAST_DAY) -> tuple[dict, ...]:
    """Every date from ``first`` to ``last`` with its working flag and running working-day index."""
    rows, index, day = [], 0, first
    while day <= last:
        working = days.is_working_day(day)
        index += working
        rows.append({"day": day, "is_working": working, "working_index": index})
        day += dt.timedelta(days=1)
    return tuple(rows)


def fill(conn: Connection) -> int:
    """(Re)build the calendar, e.g. after the holidays package learned of a new bank holiday."""
    rows = calendar_rows()
    conn.execute(CALENDAR.delete())
    conn.execute(CALENDAR.insert(), [dict(r) for r in rows])
    return len(rows)


def ensure(db) -> None:
    """Fill the calendar if it is missing (the migration fills it; a truncated table is refilled)."""
    from pathway.store.db import unit_of_work

    ends = sa.select(sa.func.count()).select_from(CALENDAR).where(CALENDAR.c.day.in_([FIRST_DAY, LAST_DAY]))
    with unit_of_work(db, write=False) as conn:
        if conn.execute(ends).scalar_one() == 2:
            return
    with unit_of_work(db) as conn:
        if conn.execute(ends).scalar_one() != 2:
            fill(conn)


def check_covered(day: dt.date, field: str, why: str = "") -> None:
    """Working days can be counted only inside the calendar's range (``why``: what counts them, for the refusal)."""
    from pathway.errors import ValidationError

    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationError(f"{field} {day.isoformat()} is outside the working-day calendar "
                              f"({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}){why}", field=field)


def working_days_sql(start, end):
    """SQL for the working days in (start, end] of two date expressions, via the calendar table."""
    c_start = CALENDAR.alias("cal_start")
    c_end = CALENDAR.alias("cal_end")
    return (sa.select(c_end.c.working_index).where(c_end.c.day == end).scalar_subquery()
            - sa.select(c_start.c.working_index).where(c_start.c.day == start).scalar_subquery())
