"""What the event kinds that keep the stage keep of an episode (``episode_progress``), and the reads
built on it: the work tray, the listing of episodes, the front door and case progression."""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain import duty as rules
from pathway.domain.episode import EpisodeState
from pathway.domain.events import PROGRESS_FIELDS, Progress
from pathway.domain.stages import ACTIVE
from pathway.store.episodes import STATE_COLUMNS
from pathway.store.tables import EPISODE, EVENT, PROGRESS

FRONT_DOOR_STAGE = "contact"

LOAD = sa.select(*(PROGRESS.c[name] for name in PROGRESS_FIELDS)).where(
    PROGRESS.c.episode_id == sa.bindparam("b_id"))
_VALUES = {name: sa.bindparam(f"p_{name}", type_=PROGRESS.c[name].type) for name in PROGRESS_FIELDS}
UPDATE = PROGRESS.update().where(PROGRESS.c.episode_id == sa.bindparam("b_id")).values(_VALUES)
INSERT = PROGRESS.insert().values(episode_id=sa.bindparam("b_id"), **_VALUES)


# -- the front door, the work tray and the listing of episodes -------------------------------------

# A team's contacts waiting for a decision (parameters: team, limit): crises first, then in order of
# arrival (pathway.domain.duty.front_door_key, as SQL), through ix_episode_queue (team, stage).
FRONT_DOOR = (sa.select(*STATE_COLUMNS)
              .where(EPISODE.c.team == sa.bindparam("team"), EPISODE.c.stage == FRONT_DOOR_STAGE)
              .order_by(sa.case((EPISODE.c.priority == rules.CRISIS_PRIORITY, rules.CRISIS_RANK), else_=1),
                        EPISODE.c.contact_at, EPISODE.c.id)
              .limit(sa.bindparam("limit")))

# The episode's last event is the one whose seq is the episode's version (uq_event_episode_seq finds it).
LAST = EVENT.alias("last_event")
_WITH_LAST = EPISODE.join(LAST, sa.and_(LAST.c.episode_id == EPISODE.c.id, LAST.c.seq == EPISODE.c.version))
_PROGRESS_COLUMNS = [PROGRESS.c[name] for name in PROGRESS_FIELDS]
_EXTRA = [LAST.c.trigger.label("last_trigger"), LAST.c.occurred_at.label("last_event_at"),
          LAST.c.occurred_on.label("last_event_on")]
# A worker's active episodes, the oldest allocation first (parameter: worker), through ix_episode_worker.
TRAY = (sa.select(*STATE_COLUMNS, *_EXTRA, *_PROGRESS_COLUMNS)
        .select_from(_WITH_LAST.outerjoin(PROGRESS, PROGRESS.c.episode_id == EPISODE.c.id))
        .where(EPISODE.c.worker == sa.bindparam("worker"), EPISODE.c.stage.in_(ACTIVE))
        .order_by(EPISODE.c.allocated_at, EPISODE.c.id))


def _row(row) -> tuple[EpisodeState, dict, Progress]:
    """An episode, its last event and its Progress from a row of STATE_COLUMNS, _EXTRA and the progress columns."""
    n, m = len(STATE_COLUMNS), len(_EXTRA)
    state = EpisodeState(*row[:n])
    last = dict(zip(("trigger", "occurred_at", "occurred_on"), row[n:n + m], strict=True))
    return state, last, Progress(*row[n + m:])


@dataclasses.dataclass(frozen=True)
class Listing:
    """What an episode listing asks: each filter None for any; ``stale_before``: the last event's London
    date is before it; ``after``: the cursor (the last id of the page before)."""

    team: str | None = None
    worker: str | None = None
    stage: str | None = None
    client_group: str | None = None
    flagged: bool | None = None
    stale_before: dt.date | None = None
    person_ref: str | None = None
    external_ref: str | None = None
    after: int | None = None
    limit: int = 50


def listing_select(ask: Listing) -> sa.Select:
    """Episodes by id after the cursor (``after``), at most ``limit``: the id is the cursor, so a page
    is stable under concurrent writes (a new episode has a higher id, a move keeps its id)."""
    q = (sa.select(*STATE_COLUMNS, *_EXTRA, *_PROGRESS_COLUMNS)
         .select_from(_WITH_LAST.outerjoin(PROGRESS, PROGRESS.c.episode_id == EPISODE.c.id)))
    for name in ("team", "worker", "stage", "client_group", "person_ref", "external_ref"):
        value = getattr(ask, name)
        if value is not None:
            q = q.where(EPISODE.c[name] == value)
    if ask.flagged is not None:
        q = q.where(PROGRESS.c.flagged_at.is_not(None) if ask.flagged else PROGRESS.c.flagged_at.is_(None))
    if ask.stale_before is not None:  # no event since before this London date, and still open
        q = q.where(LAST.c.occurred_on < ask.stale_before, EPISODE.c.stage != "closed")
    if ask.after is not None:
        q = q.where(EPISODE.c.id > ask.after)
    return q.order_by(EPISODE.c.id).limit(ask.limit)


class Progression:
    """The episode_progress rows, and the reads over episodes with their progress, on one connection
    (the same SQL on both databases)."""

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

    def front_door(self, team: str, limit: int) -> list[EpisodeState]:
        return [EpisodeState(*row) for row in self.conn.execute(FRONT_DOOR, {"team": team, "limit": limit})]

    def tray(self, worker: str) -> list[tuple[EpisodeState, dict, Progress]]:
        return [_row(row) for row in self.conn.execute(TRAY, {"worker": worker})]

    def listing(self, ask: Listing) -> list[tuple[EpisodeState, dict, Progress]]:
        return [_row(row) for row in self.conn.execute(listing_select(ask))]
