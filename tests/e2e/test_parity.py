"""Every move of the pathway table gives the same result through the library, HTTP and the command line.

The cases are generated from pathway.domain.stages.TRANSITIONS (every source stage of every row, every
guard branch), so a row added to the table is tested on every interface; and every field of the Move
command must reach each interface, so a field added to Move without reaching one fails here.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque

import typer.main
from api_support import make_api
from conftest import START
from typer.testing import CliRunner

from pathway.cli import app as cli_app
from pathway.domain.commands import Move, fields_of
from pathway.domain.stages import TRANSITIONS
from pathway.services.auth import Access

# What each guard of the table needs to hold, as a move's fields.
GUARD_FIELDS = {"has_outcome": {"outcome": "no_further_action"}, "has_worker": {"worker": "{worker}"},
                "keeps_worker": {"keep_worker": True}, "needs_long_term": {"to": "c3"}}
# The event fields every interface must write alike (not the actor, nor when it was recorded).
SAME = ("trigger", "from_stage", "to_stage", "occurred_at", "worker", "outcome", "note", "allocation", "data")
runner = CliRunner()


def _sources(row: dict) -> list[str]:
    return [row["source"]] if isinstance(row["source"], str) else list(row["source"])


def _guards(row: dict) -> list[str]:
    conditions = row.get("conditions") or []
    return [conditions] if isinstance(conditions, str) else list(conditions)


def _fields(row: dict) -> dict:
    out = {}
    for guard in _guards(row):
        out.update(GUARD_FIELDS[guard])
    return out


def cases() -> list[tuple[str, str, str, dict]]:
    """(trigger, from stage, to stage, the move's fields) for every source of every row of the table,
    and stabilise with ``to: c1`` said out loud as well as by default."""
    out = [(row["trigger"], source, row["dest"], _fields(row)) for row in TRANSITIONS for source in _sources(row)]
    out += [(t, s, d, {"to": "c1"}) for t, s, d, f in list(out) if t == "stabilise" and not f]
    return out


def paths() -> dict[str, list[tuple[str, dict]]]:
    """The shortest way to each stage from ``contact`` through the table: a list of (trigger, fields)."""
    found = {"contact": []}
    todo = deque(["contact"])
    while todo:
        stage = todo.popleft()
        for trigger, source, dest, fields in cases():
            if source == stage and dest not in found:
                found[dest] = [*found[stage], (trigger, fields)]
                todo.append(dest)
    return found


PATHS = paths()
CASES = cases()
AT = START.isoformat()  # the test clock's time: no earlier than the episode's events, never in the future


def _case_id(case) -> str:
    trigger, source, dest, fields = case
    extra = ",".join(f"{k}={v}" for k, v in fields.items() if k != "outcome")
    return f"{trigger}:{source}->{dest}" + (f"[{extra}]" if extra else "")


def _with_worker(fields: dict, worker: str) -> dict:
    return {k: (v.format(worker=worker) if isinstance(v, str) else v) for k, v in fields.items()}


def _at(engine, source: str, worker: str, person: str) -> int:
    """A fresh episode driven through the library to ``source``."""
    ep = engine.record_contact(person, "mental_health", "north")
    for trigger, fields in PATHS[source]:
        ep = engine.fire(ep.id, trigger, **_with_worker(fields, worker))
    assert ep.stage == source
    return ep.id


def cli_args(episode_id: int, move: Move) -> list[str]:
    """``pathway episode fire`` for a Move: every field that is not its default, as its option."""
    args = ["episode", "fire", str(episode_id), move.trigger]
    for f in fields_of(Move):
        value = getattr(move, f.name)
        if f.name == "trigger" or value == f.default:
            continue
        option = "--" + f.name.replace("_", "-")
        args += [option] if value is True else [option, str(value)]
    return [*args, "--format", "json"]


def http_move(api, episode_id: int, move: Move):
    """POST /episodes/{id}/events for a Move: its expected version as If-Match, the rest as the body."""
    body = {k: v for k, v in dataclasses.asdict(move).items() if k != "expected_version" and v is not None}
    headers = {} if move.expected_version is None else {"If-Match": f'"{move.expected_version}"'}
    return api.post(f"/episodes/{episode_id}/events", "integration", json=body, headers=headers)


def test_the_cases_cover_the_whole_table():
    assert {(r["trigger"], s) for r in TRANSITIONS for s in _sources(r)} <= {(t, s) for t, s, _, _ in CASES}
    assert set(PATHS) >= {d for _, _, d, _ in CASES} | {s for _, s, _, _ in CASES}
    branches = {(t, d, tuple(sorted(f))) for t, _, d, f in CASES}
    assert {("crisis", "c2_active", ("keep_worker",)), ("crisis", "c2_waiting", ()),
            ("stabilise", "c3_waiting", ("to",)), ("stabilise", "c1_active", ()),
            ("stabilise", "c1_active", ("to",))} <= branches


def test_every_move_is_the_same_through_the_library_http_and_the_command_line(council, db_url, monkeypatch):
    engine = council
    api = make_api(engine)
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    for n, case in enumerate(CASES):
        trigger, source, dest, fields = case
        worker = f"w{n}"  # one worker per case, so no caseload reaches a cap
        engine.create_worker(key=worker, name=f"Worker {n}", team="north")
        ids = {way: _at(engine, source, worker, f"P-{n}-{way.upper()}") for way in ("library", "http", "cli")}
        version = engine.get(ids["library"]).version
        move = Move(trigger=trigger, occurred_at=AT, note=f"case {n}", idempotency_key=f"parity-{n}",
                    expected_version=version, **_with_worker(fields, worker))

        stages = {"library": engine.move(ids["library"], move).stage}
        r = http_move(api, ids["http"], move)
        assert r.status_code == 200, (_case_id(case), r.text)
        assert r.headers["etag"] == f'"{version + 1}"'
        stages["http"] = r.json()["stage"]
        done = runner.invoke(cli_app, cli_args(ids["cli"], move))
        assert done.exit_code == 0, (_case_id(case), done.output)
        stages["cli"] = json.loads(done.stdout)[0]["stage"]

        assert stages == dict.fromkeys(stages, dest), _case_id(case)
        events = {way: {k: engine.history(i)[-1][k] for k in SAME} for way, i in ids.items()}
        assert events["library"]["from_stage"] == source
        assert events["http"] == events["cli"] == events["library"], _case_id(case)
        episodes = {way: engine.get(i).model_dump(include={"stage", "worker", "outcome", "version"})
                    for way, i in ids.items()}
        assert episodes["http"] == episodes["cli"] == episodes["library"], _case_id(case)


# -- every field of Move reaches every interface --------------------------------------------------------

def a_move_with_every_field() -> Move:
    """A Move whose every field differs from its default."""
    values = {"trigger": "crisis", "occurred_at": AT, "worker": "amira", "outcome": "declined", "keep_worker": True,
              "to": "c3", "note": "seen at home", "override": "only worker free", "weight": 2.5,
              "weight_reason": "court work", "idempotency_key": "k-1", "expected_version": 7,
              "reason": "stress", "where": "huddle", "decision": "visit", "next_action": "ring GP", "text": "visit",
              "due": "2099-01-01", "priority": "high", "client_group": "mental_health", "team": "south",
              "status": "booked", "mode": "video", "at": "2099-01-02T10:00:00+00:00", "minutes": 45}
    missing = {f.name for f in fields_of(Move)} - set(values)
    assert not missing, f"Move has fields this test does not give a value: {missing}"
    move = Move(**values)
    assert all(getattr(move, f.name) != f.default for f in fields_of(Move))
    return move


def test_every_move_field_is_an_option_of_episode_fire(monkeypatch):
    command = typer.main.get_command(cli_app).commands["episode"].commands["fire"]
    options = {name for p in command.params for name in p.opts}
    for f in fields_of(Move):
        assert f.name == "trigger" or "--" + f.name.replace("_", "-") in options, f.name

    sent = a_move_with_every_field()
    seen = []

    class Recorder:
        def move(self, episode_id, command):
            seen.append((episode_id, command))
            raise SystemExit(0)  # what happens after the write is not this test's business

        def dispose(self):
            pass

    import sys

    monkeypatch.setattr(sys.modules["pathway.cli.app"], "get_engine", lambda actor: Recorder())
    runner.invoke(cli_app, cli_args(5, sent))
    assert seen == [(5, sent)]


def test_every_move_field_reaches_the_engine_over_http(council, monkeypatch):
    api = make_api(council)
    ep = council.record_contact("P-1", "mental_health", "north")
    sent = a_move_with_every_field()
    seen = []

    def move(self, episode_id, command):
        seen.append((episode_id, command))
        return council.get(episode_id)

    monkeypatch.setattr(Access, "move", move)
    assert http_move(api, ep.id, sent).status_code == 200
    assert seen == [(ep.id, sent)]


def test_the_move_body_is_made_from_move():
    from pathway.api.schemas import EventCreate

    assert set(EventCreate.model_fields) | {"expected_version"} == {f.name for f in fields_of(Move)}
    for f in fields_of(Move):
        if f.name in EventCreate.model_fields:
            field = EventCreate.model_fields[f.name]
            assert field.description == f.metadata["description"]
            assert field.is_required() == (f.default is dataclasses.MISSING)

