"""The outbox relay: pending outbox rows become one delivery per matching webhook subscription.

Every change writes its outbox row in the change's own transaction and never touches the
broker, so recording goes on while Redis is down. The relay runs later (a Celery task or
in-process) and takes each pending row for itself alone (pathway.store.webhooks), so several
workers relay side by side. A row is marked sent once its deliveries exist; sending them is
pathway.services.webhooks' job.
"""

from __future__ import annotations

import datetime as dt

from pathway.store.unit import Unit

BATCH = 500


def pending(uow: Unit) -> int:
    """How many outbox rows wait to be relayed."""
    return uow.webhooks.pending()


def relay(uow: Unit, now: dt.datetime, batch: int = BATCH) -> dict:
    """Relay up to ``batch`` pending rows, oldest first: create their deliveries and mark them sent.

    Returns ``{"relayed": n, "deliveries": [new delivery ids]}``. Safe to run twice or side by
    side: a row is taken by one relay only, and a delivery exists once per (webhook, row).
    """
    rows = uow.webhooks.take_pending(batch)
    if not rows:
        return {"relayed": 0, "deliveries": []}
    subscribers = uow.webhooks.subscribers()
    values = [{"webhook_id": hook_id, "outbox_id": row.id, "kind": row.kind, "status": "pending", "attempts": 0,
               "next_attempt_at": now, "created_at": now}
              for row in rows for hook_id in subscribers.get(row.kind, ())]
    new_ids = uow.webhooks.add_deliveries(values) if values else []
    ids = [row.id for row in rows]
    uow.webhooks.mark_sent(ids, now)
    return {"relayed": len(ids), "deliveries": sorted(new_ids)}
