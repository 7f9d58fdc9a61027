"""The transactional outbox, its relay and the event feed, on SQLite and PostgreSQL."""

import threading

import pytest
import sqlalchemy as sa
from webhook_receiver import LOCAL, Receiver

from pathway import InvalidTransition, ValidationError
from pathway.services.outbox import pending, relay
from pathway.services.webhooks import new_secret
from pathway.settings import WebhookPolicy
from pathway.store.tables import OUTBOX

SECRET = new_secret()
NOWHERE = "https://pathway-test.invalid/never"  # never posted to: these tests only relay


def outbox_rows(engine):
    with engine.db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id)).mappings()]


def test_every_change_waits_in_the_outbox_until_relayed_once(council):
    hook = council.add_webhook(NOWHERE, ["episode.refer", "episode.close"], SECRET)
    ep = council.record_contact("P-1", "physical_support", "north", occurred_at="2026-05-01")
    council.fire(ep.id, "refer", occurred_at="2026-05-02")
    council.fire(ep.id, "close", outcome="declined", occurred_at="2026-05-03")
    with pytest.raises(InvalidTransition):
        council.fire(ep.id, "refer")  # refused: writes nothing, not even to the outbox
    rows = outbox_rows(council)
    assert [r["kind"] for r in rows] == ["episode.record_contact", "episode.refer", "episode.close"]
    assert all(r["sent_at"] is None and r["position"] is None for r in rows)
    first = council.relay_outbox()
    assert first["relayed"] == 3 and len(first["deliveries"]) == 2  # record_contact has no subscriber
    rows = outbox_rows(council)
    assert all(r["sent_at"] is not None and r["attempts"] == 1 for r in rows)
    assert [(r["position"], r["team"]) for r in rows] == [(1, "north"), (2, "north"), (3, "north")]
    assert council.relay_outbox() == {"relayed": 0, "deliveries": []}
    assert [(d["webhook_id"], d["kind"], d["episode_id"]) for d in council.deliveries()] == [
        (hook["id"], "episode.refer", ep.id), (hook["id"], "episode.close", ep.id)]


def test_the_relay_goes_batch_by_batch_oldest_first(council):
    for i in range(7):
        council.record_contact(f"P-{i}", "unknown", "north")
    with council.store.unit() as uow:
        assert relay(uow, council.now(), batch=3)["relayed"] == 3
        assert pending(uow) == 4
    assert [r["sent_at"] is not None for r in outbox_rows(council)] == [True] * 3 + [False] * 4
    assert council.relay_outbox()["relayed"] == 4
    assert [r["position"] for r in outbox_rows(council)] == list(range(1, 8))


def test_one_relay_at_a_time_and_positions_follow_each_other(council):
    """A second relay waits for the first to commit (PostgreSQL: the advisory lock; SQLite: the write
    lock), then finds what is left and numbers it after the first's rows."""
    council.add_webhook(NOWHERE, ["episode.record_contact"], SECRET)
    for i in range(6):
        council.record_contact(f"P-{i}", "unknown", "north")
    second: dict = {}
    with council.store.unit() as first:
        taken = relay(first, council.now(), batch=4)

        def other():
            with council.store.unit() as uow:
                second.update(relay(uow, council.now(), batch=4))

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the first relay's commit
    thread.join(10)
    assert (taken["relayed"], second["relayed"]) == (4, 2)
    assert not set(taken["deliveries"]) & set(second["deliveries"])
    assert [r["position"] for r in outbox_rows(council)] == [1, 2, 3, 4, 5, 6]
    assert len(council.deliveries()) == 6


def test_with_the_broker_down_recording_goes_on_and_nothing_is_lost(council, settings):
    """With a dead broker configured, contacts and transitions succeed (the nudge fails quietly), the
    outbox waits, and sending a task fails loudly rather than hangs."""
    from kombu.exceptions import OperationalError

    from workers.app import make_celery

    dead = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/9"})
    council.settings = dead
    council.nudge.__init__(dead)
    with Receiver() as rx:
        council.settings = dead.model_copy(update={"webhooks": WebhookPolicy(**LOCAL, timeout=2)})
        council.add_webhook(rx.url, ["episode.refer"], SECRET)
        ep = council.record_contact("P-1", "social_support", "north", occurred_at="2026-05-01")
        ep = council.fire(ep.id, "refer", occurred_at="2026-05-02")
        assert ep.stage == "c1_waiting"
        app = make_celery(dead)
        with pytest.raises(OperationalError):
            app.send_task("pathway.dispatch_outbox")
        assert [r["sent_at"] for r in outbox_rows(council)] == [None, None]
        # The broker is back (here: the in-process relay): everything that waited is delivered.
        assert council.dispatch_outbox()["delivered"] == 1
        assert [m["data"]["episode_id"] for m in rx.messages()] == [ep.id]


# -- the event feed ----------------------------------------------------------------------------------

def stages_from_feed(engine, **filters) -> dict[int, str]:
    """A back end's view rebuilt from the feed alone, page by page from cursor 0."""
    stages, after = {}, "0"
    while True:
        page = engine.events(after, limit=3, **filters)
        for item in page["items"]:
            data = item["data"]
            if item["type"].startswith("episode."):
                stages[data["episode_id"]] = data["to_stage"]
        if not page["items"]:
            return stages
        after = page["next_cursor"]


def test_the_feed_rebuilds_every_episode_and_back_dated_events_come_after_the_cursor(council):
    eps = [council.record_contact(f"P-{i}", "mental_health", "north" if i % 2 else "south",
                                  occurred_at="2026-05-01") for i in range(5)]
    council.fire(eps[0].id, "refer", occurred_at="2026-05-02")
    council.fire(eps[1].id, "resolve", outcome="signposted", occurred_at="2026-05-02")
    council.fire(eps[3].id, "refer", occurred_at="2026-05-02")
    council.fire(eps[3].id, "allocate", worker="amira", occurred_at="2026-05-03")
    council.relay_outbox()
    page = council.events("0", limit=100)
    assert [set(i) for i in page["items"][:1]] == [{"id", "cursor", "type", "timestamp", "data"}]
    caught_up = page["next_cursor"]
    assert council.events(caught_up) == {"items": [], "next_cursor": caught_up}
    # Recorded now, happened long before everything already read: still after the back end's cursor.
    eps.append(council.record_contact("P-905", "mental_health", "south", occurred_at="2026-03-01"))
    council.relay_outbox()
    (late,) = council.events(caught_up)["items"]
    assert (late["type"], late["data"]["episode_id"], late["data"]["occurred_at"][:10]) == (
        "episode.record_contact", eps[-1].id, "2026-03-01")
    assert stages_from_feed(council) == {ep.id: council.get(ep.id).stage for ep in eps}
    assert set(stages_from_feed(council, team="south")) == {eps[0].id, eps[2].id, eps[4].id, eps[5].id}
    kinds = council.events("0", kinds=["episode.refer"])["items"]
    assert [i["data"]["episode_id"] for i in kinds] == [eps[0].id, eps[3].id]


def test_a_filtered_page_that_finds_little_still_moves_the_cursor_on(council):
    for i in range(4):
        council.record_contact(f"P-{i}", "unknown", "north")
    council.relay_outbox()
    page = council.events("0", kinds=["episode.close"])
    assert page["items"] == []
    # Next time, only what comes after the rows already read is looked at.
    ep = council.record_contact("P-9", "unknown", "north")
    council.fire(ep.id, "close", outcome="declined")
    council.relay_outbox()
    (item,) = council.events(page["next_cursor"], kinds=["episode.close"])["items"]
    assert item["data"]["episode_id"] == ep.id


@pytest.mark.parametrize("args, field, message", [
    ({"after": "not-a-cursor"}, "after", "is not one the feed gave"),
    ({"after": "cG9zOi0x"}, "after", "is not one the feed gave"),  # "pos:-1"
    ({"limit": 0}, "limit", "1 to 1000"),
    ({"limit": 1001}, "limit", "1 to 1000"),
    ({"kinds": ["episode.party"]}, "kind", "unknown event kind 'episode.party'"),
    ({"team": "east"}, "team", "unknown team 'east'; teams are: north, south"),
])
def test_bad_feed_requests_are_refused_clearly(council, args, field, message):
    args = dict(args)
    after = args.pop("after", "0")
    with pytest.raises(ValidationError, match=message) as err:
        council.events(after, **args)
    assert err.value.extra["field"] == field
