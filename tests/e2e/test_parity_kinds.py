"""Every event kind that keeps the stage (pathway.domain.events.KINDS) gives the same event through the
library, HTTP and the command line, and every refusal is the same refusal on each, with nothing written.

The cases come from the kinds table: a kind added to it without an example here fails
``test_every_kind_has_a_case``.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from api_support import make_api
from conftest import START
from test_parity import SAME, cli_args, http_move, runner

from pathway.cli import app as cli_app
from pathway.domain.commands import Move
from pathway.domain.events import KINDS
from pathway.errors import PathwayError
from pathway.services.webhooks import EVENT_KINDS, new_secret
from pathway.store.tables import OUTBOX

AT = START.isoformat()
DUE = "2099-01-31"
# A valid event of each kind, and what must hold on the episode before it (a flag before an unflag).
EXAMPLES = {
    "note": ({"note": "rang the person's daughter"}, []),
    "flag": ({"reason": "carer at breaking point"}, []),
    "unflag": ({}, [("flag", {"reason": "raised by mistake"})]),
    "discussed": ({"where": "huddle", "decision": "joint visit", "next_action": "book OT", "due": DUE}, []),
    "next_action": ({"text": "ring the GP", "due": DUE}, []),
    "reprioritise": ({"priority": "high", "reason": "lives alone"}, []),
    "reclassify": ({"client_group": "learning_disability", "reason": "assessment found"}, []),
    "transfer": ({"team": "south", "reason": "moved to Southtown"}, []),
    "conversation": ({"status": "held", "mode": "home_visit", "minutes": 50}, []),
    "welfare_check": ({"outcome": "spoken"}, []),
}
# More of a conversation than one example shows: each status with its fields.
CONVERSATIONS = [
    {"status": "booked", "mode": "video", "at": "2026-06-03T10:00:00+00:00"},
    {"status": "booked", "mode": "phone"},
    {"status": "cancelled"},
    {"status": "not_attended", "mode": "community_venue", "note": "nobody answered the door"},
]
# Refusals: (kind, fields, stage the episode is at, steps before, error class, HTTP status).
REFUSALS = [
    ("flag", {"reason": "x"}, "closed", [], "InvalidTransition", 409),
    ("discussed", {"where": "huddle", "decision": "x"}, "closed", [], "InvalidTransition", 409),
    ("next_action", {"text": "x", "due": "2020-01-01"}, "contact", [], "ValidationError", 422),
    ("discussed", {"where": "huddle", "decision": "x", "next_action": "y", "due": "2020-01-01"}, "contact", [],
     "ValidationError", 422),
    ("transfer", {"team": "north", "reason": "x"}, "contact", [], "ValidationError", 422),
    ("transfer", {"team": "atlantis", "reason": "x"}, "contact", [], "ValidationError", 422),
    ("transfer", {"team": "south", "reason": "x"}, "c1_active", [], "InvalidTransition", 409),
    ("reprioritise", {"priority": "urgent", "reason": "x"}, "contact", [], "ValidationError", 422),
    ("reclassify", {"client_group": "aliens", "reason": "x"}, "contact", [], "ValidationError", 422),
    ("unflag", {}, "contact", [], "ValidationError", 422),
    ("flag", {"reason": "again"}, "contact", [("flag", {"reason": "first"})], "ValidationError", 422),
    ("flag", {}, "contact", [], "ValidationError", 422),
    ("discussed", {"where": "pub", "decision": "x"}, "contact", [], "ValidationError", 422),
    ("note", {"note": "x", "outcome": "died"}, "contact", [], "ValidationError", 422),
    ("refer", {"reason": "x"}, "contact", [], "ValidationError", 422),
    ("conversation", {"status": "held", "mode": "phone"}, "closed", [], "InvalidTransition", 409),
    ("conversation", {"status": "chatted", "mode": "phone"}, "contact", [], "ValidationError", 422),
    ("conversation", {"status": "held", "mode": "fax"}, "contact", [], "ValidationError", 422),
    ("conversation", {"status": "held"}, "contact", [], "ValidationError", 422),
    ("conversation", {"mode": "phone"}, "contact", [], "ValidationError", 422),
    ("conversation", {"status": "held", "mode": "phone", "minutes": 0}, "contact", [], "ValidationError", 422),
    ("conversation", {"status": "held", "mode": "phone", "minutes": 1441}, "c1_active", [], "ValidationError", 422),
    ("conversation", {"status": "booked", "mode": "phone", "minutes": 30}, "contact", [], "ValidationError", 422),
    ("conversation", {"status": "held", "mode": "phone", "at": AT}, "contact", [], "ValidationError", 422),
    ("conversation", {"status": "booked", "mode": "phone", "at": "2026-05-01T09:00:00+00:00"}, "contact", [],
     "ValidationError", 422),
    ("conversation", {"status": "held", "mode": "phone", "occurred_at": "2026-05-31T09:00:00+00:00"}, "contact", [],
     "ValidationError", 422),  # before the contact
    ("conversation", {"status": "held", "mode": "phone", "occurred_at": "2099-01-01T09:00:00+00:00"}, "c1_waiting", [],
     "ValidationError", 422),  # in the future
    ("conversation", {"status": "held", "mode": "phone", "outcome": "died"}, "contact", [], "ValidationError", 422),
    ("flag", {"reason": "x", "status": "held"}, "contact", [], "ValidationError", 422),
    ("close", {"outcome": "declined", "mode": "phone"}, "contact", [], "ValidationError", 422),
    ("welfare_check", {"outcome": "spoken"}, "closed", [], "InvalidTransition", 409),
    ("welfare_check", {"outcome": "died"}, "contact", [], "ValidationError", 422),
    ("welfare_check", {}, "contact", [], "ValidationError", 422),
    ("welfare_check", {"outcome": "spoken", "reason": "x"}, "contact", [], "ValidationError", 422),
]
PATHS = {"contact": [], "c1_waiting": [("refer", {})], "c1_active": [("refer", {}), ("allocate", {"worker": "ben"})],
         "closed": [("resolve", {"outcome": "signposted"})]}


def test_every_kind_has_a_case():
    assert set(EXAMPLES) == set(KINDS)
    for kind, (fields, _) in EXAMPLES.items():
        assert set(KINDS[kind].required) <= set(fields), kind


def _at(engine, stage: str, person: str, before) -> int:
    ep = engine.record_contact(person, "mental_health", "north", occurred_at=AT)
    for trigger, fields in [*PATHS[stage], *before]:
        ep = engine.fire(ep.id, trigger, occurred_at=AT, **fields)
    assert ep.stage == stage
    return ep.id


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_every_kind_is_the_same_through_the_library_http_and_the_command_line(council, db_url, monkeypatch, kind):
    engine = council
    api = make_api(engine)
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    fields, before = EXAMPLES[kind]
    ids = {way: _at(engine, "contact", f"P-{n}-{way.upper()}", before)
           for n, way in enumerate(("library", "http", "cli"), start=1)}
    version = engine.get(ids["library"]).version
    move = Move(trigger=kind, occurred_at=AT, idempotency_key=f"k-{kind}", expected_version=version, **fields)
    _same_three_ways(engine, api, ids, move, version)


def _same_three_ways(engine, api, ids, move, version):
    """``move`` on each of ``ids``, one per way in: the same event, episode and Progress; replay and a retry hold."""
    kind = move.trigger
    engine.move(ids["library"], move)
    r = http_move(api, ids["http"], move)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == f'"{version + 1}"'
    done = runner.invoke(cli_app, cli_args(ids["cli"], move))
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)[0]["stage"] == "contact"

    events = {way: {k: engine.history(i)[-1][k] for k in SAME} for way, i in ids.items()}
    assert events["library"]["trigger"] == kind and events["library"]["to_stage"] == "contact"
    assert events["http"] == events["cli"] == events["library"]
    shown = {way: engine.get(i).model_dump(include={"stage", "priority", "client_group", "team", "version"})
             for way, i in ids.items()}
    assert shown["http"] == shown["cli"] == shown["library"]
    progress = {way: engine.progress(i) for way, i in ids.items()}
    assert progress["http"] == progress["cli"] == progress["library"]
    for i in ids.values():  # the log is the truth: the episode and its progress are rebuilt from it
        assert engine.replay(i) == engine.get(i)
        assert engine.progress(i, replayed=True) == engine.progress(i)
    # A retry with the same key gives the first reply and writes nothing.
    assert http_move(api, ids["http"], move).status_code == 200
    assert len(engine.history(ids["http"])) == version + 1


def _trace(engine, episode_id):
    return engine.get(episode_id).version, len(engine.history(episode_id)), engine.progress(episode_id)


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: f"{c[0]}:{c[2]}:{','.join(c[1])}")
def test_every_refusal_is_the_same_and_writes_nothing(council, db_url, monkeypatch, case):
    kind, fields, stage, before, error, status = case
    engine = council
    api = make_api(engine)
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    ep = _at(engine, stage, "P-900", before)
    trace = _trace(engine, ep)
    move = Move(**{"trigger": kind, "occurred_at": AT, **fields})

    with pytest.raises(PathwayError) as refused:
        engine.move(ep, move)
    assert type(refused.value).__name__ == error
    r = http_move(api, ep, move)
    assert r.status_code == status, r.text
    assert r.json()["detail"] == str(refused.value)
    done = runner.invoke(cli_app, cli_args(ep, move))
    assert done.exit_code == 1
    # The same words (the command line's clock is the real one, so a date in the message may differ).
    assert " ".join(str(refused.value).split()[:5]) in " ".join(done.output.split())
    assert _trace(engine, ep) == trace


@pytest.mark.parametrize("fields", CONVERSATIONS, ids=lambda f: f["status"] + ("+at" if "at" in f else ""))
def test_every_status_of_a_conversation_is_the_same_through_the_library_http_and_the_command_line(
        council, db_url, monkeypatch, fields):
    engine = council
    api = make_api(engine)
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    ids = {way: _at(engine, "contact", f"P-{n}-{way.upper()}", [])
           for n, way in enumerate(("library", "http", "cli"), start=1)}
    version = engine.get(ids["library"]).version
    move = Move(trigger="conversation", occurred_at=AT, idempotency_key="k-talk", expected_version=version, **fields)
    _same_three_ways(engine, api, ids, move, version)
    data = engine.history(ids["library"])[-1]["data"]
    assert data == {k: v for k, v in fields.items() if k != "note"}


def test_a_note_is_taken_on_a_closed_episode_and_a_transfer_keeps_the_wait(council):
    engine = council
    ep = engine.record_contact("P-1", "mental_health", "north", occurred_at=AT)
    other = engine.record_contact("P-2", "mental_health", "south", occurred_at=AT)
    engine.fire(ep.id, "refer", occurred_at=AT)
    engine.fire(other.id, "refer", occurred_at=AT)
    moved = engine.fire(ep.id, "transfer", team="south", reason="moved house")
    assert (moved.team, moved.stage, moved.wait_from) == ("south", "c1_waiting", START)
    # The new team's queue sees the original wait: the earlier contact (lower id on the same wait) first.
    assert [e.id for e in engine.queue("south")] == [ep.id, other.id]
    assert engine.queue("north") == []
    engine.fire(ep.id, "close", outcome="moved_away")
    noted = engine.fire(ep.id, "note", note="letter returned")
    assert noted.stage == "closed"
    assert engine.history(ep.id)[-1]["note"] == "letter returned"


def test_each_kind_goes_out_as_a_webhook_kind_with_the_back_ends_case_id(council):
    assert {f"episode.{k}" for k in KINDS} <= set(EVENT_KINDS)
    council.add_webhook("https://example.org/hook", [f"episode.{k}" for k in KINDS], new_secret())
    ep = council.record_contact("P-1", "mental_health", "north", occurred_at=AT, external_ref="CW-5")
    council.fire(ep.id, "flag", reason="stress")
    relayed = council.relay_outbox()
    (delivery,) = relayed["deliveries"]
    (row,) = [d for d in council.deliveries() if d["id"] == delivery]
    assert row["kind"] == "episode.flag"
    with council.store.unit(write=False) as uow:
        payload = uow.conn.execute(sa.select(OUTBOX.c.payload).where(OUTBOX.c.kind == "episode.flag")).scalar_one()
    assert (payload["external_ref"], payload["data"]["reason"], payload["to_stage"]) == ("CW-5", "stress", "contact")
