"""What the event kinds that keep the stage keep of an episode (``episode_progress``), and the reads
built on it: the work tray, the listing of episodes, the front door and case progression."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain.events import PROGRESS_FIELDS, Progress
from pathway.store.tables import PROGRESS

LOAD = sa.select(*(PROGRESS.c[name] for name in PROGRESS_FIELDS)).where(
    PROGRESS.c.episode_id == sa.bindparam("b_id"))
_VALUES = {name: sa.bindparam(f"p_{name}", type_=PROGRESS.c[name].type) for name in PROGRESS_FIELDS}
UPDATE = PROGRESS.update().where(PROGRESS.c.episode_id == sa.bindparam("b_id")).values(_VALUES)
INSERT = PROGRESS.insert().values(episode_id=sa.bindparam("b_id"), **_VALUES)


class Progression:
    """The episode_progress rows on one connection (the same SQL on both databases)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def load(self, episode_id: int) -> Progress:
        row = self.conn.execute(LOAD, {"b_id": episode_id}).first()
        return Progress() if row is None else Progress(*row)

    def save(self, episode_id: int, progress: Progress) -> None:
        """Write the episode's Progress. The episode row's guarded update in the same unit of work holds
        the episode, so no other writer can insert its row meanwhile."""
        params = {"b_id": episode_id, **{f"p_{name}": getattr(progress, name) for name in PROGRESS_FIELDS}}
        if self.conn.execute(UPDATE, params).rowcount == 0:
            self.conn.execute(INSERT, params)
