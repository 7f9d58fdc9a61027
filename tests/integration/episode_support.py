"""Checks the integration tests share."""

import sqlalchemy as sa

from pathway.domain import days
from pathway.store.tables import EPISODE, EVENT


def wait_dates_that_disagree(engine) -> list:
    """Episodes whose stored wait_from_on is not the London date of their wait_from, or not their
    last event's wait_from_on (the reports read it from the episode row)."""
    last = sa.and_(EVENT.c.episode_id == EPISODE.c.id, EVENT.c.seq == EPISODE.c.version)
    with engine.db.connect() as conn:
        rows = conn.execute(sa.select(EPISODE.c.id, EPISODE.c.wait_from, EPISODE.c.wait_from_on, EVENT.c.wait_from_on)
                            .select_from(EPISODE.join(EVENT, last))).all()
    return [r for r in rows if r[2] != r[3] or r[2] != (days.london_date(r[1]) if r[1] else None)]
