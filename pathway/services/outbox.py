"""The outbox relay: pending outbox rows become one delivery per matching webhook subscription.

Every change writes its outbox row in the change's own transaction and never touches the
broker, so recording goes on while Redis is down. The relay runs later (a Celery task or
in-process): it takes pending rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
workers relay side by side without taking the same row, and under SQLite's up-front write lock
with a guarded ``UPDATE … WHERE sent_at IS NULL`` on SQLite. A row is marked sent once its
deliveries exist; sending them is pathway/webhooks.py's job.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.store.db import is_sqlite
from pathway.store.tables import Delivery, Outbox, Webhook

OUTBOX = Outbox.__table__
WEBHOOK = Webhook.__table__
DELIVERY = Delivery.__table__

BATCH = 500


def dialect_insert(conn: Connection, table: sa.Table):
    """``INSERT`` in the connection's dialect, which has ``ON CONFLICT`` on both databases."""
    if is_sqlite(conn):
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    return insert(table)


def insert_ignoring_duplicates(conn: Connection, table: sa.Table):
    """``INSERT … ON CONFLICT DO NOTHING`` in the connection's dialect."""
    return dialect_insert(conn, table).on_conflict_do_nothing()


def pending(conn: Connection) -> int:
    """How many outbox rows wait to be relayed."""
    return conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(OUTBOX.c.sent_at.is_(None))).scalar_one()


def relay(conn: Connection, now: dt.datetime, batch: int = BATCH) -> dict:
    """Relay up to ``batch`` pending rows, oldest first: create their deliveries and mark them sent.

    Returns ``{"relayed": n, "deliveries": [new delivery ids]}``. Safe to run twice or side by
    side: a row is taken by one relay only, and a delivery exists once per (webhook, row).
    """
    q = (sa.select(OUTBOX.c.id, OUTBOX.c.kind).where(OUTBOX.c.sent_at.is_(None))
         .order_by(OUTBOX.c.id).limit(batch))
    if not is_sqlite(conn):
        q = q.with_for_update(skip_locked=True)
    rows = conn.execute(q).all()
    if not rows:
        return {"relayed": 0, "deliveries": []}
    subscribers: dict[str, list[int]] = {}
    # Paused subscribers get their deliveries too; they wait until the subscriber is resumed.
    for hook in conn.execute(sa.select(WEBHOOK.c.id, WEBHOOK.c.events)):
        for kind in hook.events:
            subscribers.setdefault(kind, []).append(hook.id)
    values = [{"webhook_id": hook_id, "outbox_id": row.id, "kind": row.kind, "status": "pending", "attempts": 0,
               "next_attempt_at": now, "created_at": now}
              for row in rows for hook_id in subscribers.get(row.kind, ())]
    new_ids: list[int] = []
    if values:
        new_ids = list(conn.execute(insert_ignoring_duplicates(conn, DELIVERY).returning(DELIVERY.c.id),
                                    values).scalars())
    ids = [row.id for row in rows]
    conn.execute(OUTBOX.update().where(OUTBOX.c.id.in_(ids), OUTBOX.c.sent_at.is_(None))
                 .values(sent_at=now, attempts=OUTBOX.c.attempts + 1))
    return {"relayed": len(ids), "deliveries": sorted(new_ids)}
