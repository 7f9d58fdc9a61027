"""The duty desk's SQL: the team queue in claim order, the claim's pick and move, and caseloads.

The crisis test and the claim order are the domain's (pathway.domain.duty), written here as SQL
once: the queue listing, the board and every claim use these expressions.

Concurrency. On PostgreSQL a claim locks the claiming worker's row (``FOR UPDATE``) and then takes
the first waiting episode with ``FOR UPDATE SKIP LOCKED``, so claimers never wait on each other's
candidate; the caseload is counted again by the claim's move, a later statement than the worker's
lock, so two claims by the same worker cannot both pass the cap. Every allocation locks the worker
before the episode: one lock order, no deadlock. On SQLite a writing unit of work starts with
``BEGIN IMMEDIATE`` (writers take turns) and the move applies only from the version it read.
"""

from __future__ import annotations

import sqlalchemy as sa

from pathway.domain import duty as rules
from pathway.domain.stages import WAITING
from pathway.store.episodes import STATE_COLUMNS
from pathway.store.tables import EPISODE

IS_CRISIS = sa.or_(EPISODE.c.stage == rules.CRISIS_STAGE, EPISODE.c.priority == rules.CRISIS_PRIORITY)
RANK = sa.case((IS_CRISIS, rules.CRISIS_RANK),
               *((EPISODE.c.priority == p, r) for p, r in rules.PRIORITY_RANK.items()),
               else_=rules.OTHER_RANK)
# THE claim order (pathway.domain.duty.claim_key, as SQL).
CLAIM_ORDER = (RANK, EPISODE.c.wait_from.asc(), EPISODE.c.id.asc())

# The team's waiting episodes, in claim order (parameter: team).
WAITING_IN = (sa.select(EPISODE.c.id)
              .where(EPISODE.c.team == sa.bindparam("team"), EPISODE.c.stage.in_(WAITING))
              .order_by(*CLAIM_ORDER))
QUEUE = WAITING_IN.with_only_columns(*STATE_COLUMNS)
