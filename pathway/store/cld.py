"""The client-level data return's SQL: the spells of the pathway that ended in a period, from the event log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.store.tables import EPISODE, EVENT

# The triggers that can move an episode out of one part of the pathway (allocate and release never do).
LEAVING = ("resolve", "refer", "crisis", "stabilise", "plan", "close")


def _part(column):
    """'contact', 'c1', 'c2', 'c3' or 'closed' from a stage column, in SQL."""
    return sa.case((column.like("c1%"), "c1"), (column.like("c2%"), "c2"), (column.like("c3%"), "c3"),
                   else_=column)


def spells_select(start: dt.date, end: dt.date, parts: Iterable[str]) -> sa.Select:
    """Every spell in ``parts`` of the pathway that ended between ``start`` and ``end`` (London dates):
    the leaving event, the event that began the spell, and the episode's person and client group."""
    leave = EVENT.alias("leave")
    enter = EVENT.alias("enter")
    earlier = EVENT.alias("earlier")
    part = _part(leave.c.from_stage)
    # The spell began with the latest earlier event that entered the part from outside it.
    began = (sa.select(sa.func.max(earlier.c.seq))
             .where(earlier.c.episode_id == leave.c.episode_id, earlier.c.seq < leave.c.seq,
                    _part(earlier.c.to_stage) == part,
                    sa.or_(earlier.c.from_stage.is_(None), _part(earlier.c.from_stage) != part))
             .scalar_subquery())
    return (sa.select(leave.c.episode_id, leave.c.seq, leave.c.trigger, part.label("part"),
                      _part(leave.c.to_stage).label("next_part"), leave.c.outcome, leave.c.occurred_on.label("end_on"),
                      enter.c.occurred_on.label("start_on"), enter.c.trigger.label("start_trigger"),
                      EPISODE.c.person_ref, EPISODE.c.client_group, EPISODE.c.route, EPISODE.c.contact_at)
            .select_from(leave.join(EPISODE, EPISODE.c.id == leave.c.episode_id)
                         .join(enter, sa.and_(enter.c.episode_id == leave.c.episode_id, enter.c.seq == began)))
            .where(leave.c.trigger.in_(LEAVING), leave.c.occurred_on >= start, leave.c.occurred_on <= end,
                   leave.c.from_stage.is_not(None),
                   part != _part(leave.c.to_stage), part.in_(list(parts)))
            .order_by(leave.c.occurred_on, leave.c.episode_id, leave.c.seq))


class Cld:
    """The return's reads on one connection (the same SQL on both databases)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def spells(self, start: dt.date, end: dt.date, parts: Iterable[str]) -> list[dict]:
        """The spells of :func:`spells_select`, oldest first, as dicts."""
        return [dict(r) for r in self.conn.execute(spells_select(start, end, parts)).mappings()]
