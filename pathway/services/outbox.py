"""The outbox relay and the event feed: pending outbox rows take their place in the feed and become one
delivery per matching webhook subscription.

Every change writes its outbox row in the change's own transaction and never touches the broker, so
recording goes on while Redis is down. The relay runs later (a Celery task, nudged after each commit,
or in-process), one at a time: the positions it gives are the order in which rows became visible, so a
back end reading the feed after a cursor never misses a row that committed late
(docs/decisions/0017-event-feed-order.md). Sending the deliveries is pathway.services.webhooks' job.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from pathway.domain import checks
from pathway.errors import ValidationError
from pathway.services.webhooks import check_kinds, message, message_id
from pathway.store.unit import Unit

BATCH = 500
FEED_LIMIT = (1, 1000)  # the feed's page size, least and most
CURSOR_PREFIX = "pos:"


def pending(uow: Unit) -> int:
    """How many outbox rows wait to be relayed."""
    return uow.webhooks.pending()


def wants(hook, kind: str, team: str | None) -> bool:
    """Whether a subscriber takes a message: its kind, and its team when the subscriber names teams."""
    return kind in hook.events and (hook.teams is None or team in hook.teams)


def relay(uow: Unit, now: dt.datetime, batch: int = BATCH) -> dict:
    """Relay up to ``batch`` pending rows, oldest first: give each the next position in the feed, create
    its deliveries and mark it sent.

    Returns ``{"relayed": n, "deliveries": [new delivery ids]}``. Safe to run twice or side by side: one
    relay runs at a time, and a delivery exists once per (webhook, row).
    """
    uow.webhooks.lock_relay()
    rows = uow.webhooks.take_pending(batch)
    if not rows:
        return {"relayed": 0, "deliveries": []}
    hooks = uow.webhooks.subscribers()
    values = [{"webhook_id": hook.id, "outbox_id": row.id, "episode_id": row.episode_id, "kind": row.kind,
               "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
              for row in rows for hook in hooks if wants(hook, row.kind, (row.payload or {}).get("team"))]
    chain(uow, values)
    new_ids = uow.webhooks.add_deliveries(values) if values else []
    uow.webhooks.place([row.id for row in rows], uow.webhooks.last_position(), now)
    return {"relayed": len(rows), "deliveries": sorted(new_ids)}


def chain(uow: Unit, values: list[dict]) -> None:
    """Link each new delivery to the episode's previous message to the same subscriber (relayed before, or
    earlier in this batch), so a sender takes it only once that one is no longer pending. One relay at a
    time: nothing is relayed for the episode meanwhile."""
    keyed = [v for v in values if v["episode_id"] is not None]
    last = {}
    if keyed:
        last = uow.webhooks.last_relayed({v["webhook_id"] for v in keyed}, {v["episode_id"] for v in keyed})
    for v in values:
        key = (v["webhook_id"], v["episode_id"])
        v["previous_outbox_id"] = last.get(key) if v["episode_id"] is not None else None
        if v["episode_id"] is not None:
            last[key] = v["outbox_id"]


# -- the event feed ------------------------------------------------------------------------------

def cursor(position: int) -> str:
    """The opaque cursor after a position ("0" is the start of the feed)."""
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{position}".encode()).decode().rstrip("=")


def read_cursor(value: str | None) -> int:
    """The position a cursor stands after; ValidationError if it is not one the feed gave."""
    if value is None or value == "0":
        return 0
    why = f"cursor after={value[:80]!r} is not one the feed gave: use 0 for the start, or a next_cursor it returned"
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationError(why, field="after") from None
    number = text[len(CURSOR_PREFIX):]
    if not text.startswith(CURSOR_PREFIX) or not number.isdigit() or len(number) > 18:
        raise ValidationError(why, field="after")
    return int(number)


def feed(uow: Unit, after: str | None, limit: int = 100, kinds: list[str] | None = None,
         team: str | None = None) -> dict:
    """Relayed events after the cursor ``after``, in feed order: ``{items, next_cursor}``. Each item is the
    webhook's message (``type``, ``timestamp``, ``data``) with its ``id`` (the webhook-id) and ``cursor``."""
    position = read_cursor(after)
    if not isinstance(limit, int) or not FEED_LIMIT[0] <= limit <= FEED_LIMIT[1]:
        raise ValidationError(f"limit {limit!r} is out of range: {FEED_LIMIT[0]} to {FEED_LIMIT[1]}", field="limit")
    if kinds:
        check_kinds(kinds, "kind")
    if team is not None:
        known = [t["key"] for t in uow.episodes.teams()]
        if team not in known:
            raise ValidationError(checks.unknown_team(team, known), field="team")
    top, rows = uow.webhooks.feed(position, limit, kinds, team)
    items = [{"id": message_id(r["id"]), "cursor": cursor(r["position"]),
              **message(r["kind"], r["created_at"], r["payload"])} for r in rows]
    # A short page has read everything given so far: the next read starts after it, not after the last match.
    last = rows[-1]["position"] if len(rows) == limit else max(top, position)
    return {"items": items, "next_cursor": cursor(last)}
