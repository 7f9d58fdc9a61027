"""History in: an all-or-nothing backfill from a case record system's CSV, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from episode_support import wait_dates_that_disagree

from pathway import ValidationError
from pathway.services.history import COLUMNS, ImportMapping
from pathway.store.tables import EPISODE, EPISODE_REF, EVENT, OUTBOX

GOOD = [
    # resolved at the front door
    dict(episode_ref="E1", seq=1, person_ref="P1", client_group="physical_support", team="north",
         trigger="record_contact", occurred_at="2026-01-05T09:00:00+00:00", route="front_door"),
    dict(episode_ref="E1", seq=2, trigger="resolve", outcome="signposted", occurred_at="2026-01-05T10:00:00+00:00"),
    # conversation 1, a crisis the worker keeps, on to conversation 3, released and re-allocated
    dict(episode_ref="E2", seq=1, person_ref="P2", client_group="learning_disability", team="north",
         trigger="record_contact", occurred_at="2026-01-06", priority="high"),
    dict(episode_ref="E2", seq=2, trigger="refer", occurred_at="2026-01-07"),
    dict(episode_ref="E2", seq=3, trigger="allocate", worker="amira", occurred_at="2026-01-17", allocation="self"),
    dict(episode_ref="E2", seq=4, trigger="crisis", keep_worker="true", occurred_at="2026-01-20"),
    dict(episode_ref="E2", seq=5, trigger="stabilise", to="c3", occurred_at="2026-01-25", note="safe at home"),
    dict(episode_ref="E2", seq=6, trigger="allocate", worker="ben", occurred_at="2026-02-01"),
    dict(episode_ref="E2", seq=7, trigger="release", occurred_at="2026-02-03"),
    dict(episode_ref="E2", seq=8, trigger="allocate", worker="amira", occurred_at="2026-02-04"),
    dict(episode_ref="E2", seq=9, trigger="close", outcome="long_term_support", occurred_at="2026-03-01"),
    # still waiting for conversation 1
    dict(episode_ref="E3", seq=1, person_ref="P3", client_group="mental_health", team="south",
         trigger="record_contact", occurred_at="2026-05-20T08:30:00+01:00", actor="mosaic-extract"),
    dict(episode_ref="E3", seq=2, trigger="refer", occurred_at="2026-05-21T08:30:00+01:00"),
]


def write_csv(path, rows, columns=COLUMNS, encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def counts(engine):
    with engine.db.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                     for t in (EPISODE, EVENT, OUTBOX, EPISODE_REF))


def ids_by_ref(engine):
    with engine.db.connect() as conn:
        return dict(conn.execute(sa.select(EPISODE_REF.c.ref, EPISODE_REF.c.episode_id)).all())


def refused(engine, source, mapping=None):
    before = counts(engine)
    with pytest.raises(ValidationError) as info:
        engine.import_history(source, mapping)
    assert counts(engine) == before
    return info.value


def test_a_good_file_is_imported_and_every_episode_replays(council, tmp_path):
    path = write_csv(tmp_path / "history.csv", GOOD)
    summary = council.import_history(path)
    assert (summary.rows, summary.episodes, summary.events, summary.new_episodes, summary.new_events) == (
        13, 3, 13, 3, 13)
    assert summary.by_client_group == {"learning_disability": 1, "mental_health": 1, "physical_support": 1}
    assert counts(council) == (3, 13, 0, 3)  # no outbox rows for history
    refs = ids_by_ref(council)
    for episode_id in refs.values():
        assert council.get(episode_id) == council.replay(episode_id)
    assert wait_dates_that_disagree(council) == []
    e2 = council.get(refs["E2"])
    assert (e2.stage, e2.outcome, e2.priority, e2.version) == ("closed", "long_term_support", "high", 9)
    assert [(a["conversation"], a["days"]) for a in council.allocations(refs["E2"])] == [
        ("c1", 11), ("c3", 7)]
    e3 = council.get(refs["E3"])
    assert (e3.stage, e3.days_waiting, e3.team) == ("c1_waiting", 12, "south")
    log = council.history(refs["E2"])
    assert [h["allocation"] for h in log if h["trigger"] == "allocate"] == ["self", "manager", "manager"]
    assert log[4]["note"] == "safe at home"
    assert [h["actor"] for h in council.history(refs["E3"])] == ["mosaic-extract", "test"]
    assert {h["actor"] for h in log} == {"test"}


def test_imported_events_carry_the_same_derived_columns_as_live_ones(council, tmp_path):
    council.import_history(write_csv(tmp_path / "h.csv", [r for r in GOOD if r["episode_ref"] == "E2"]))
    live = council.record_contact("P2", "learning_disability", "north", occurred_at="2026-01-06", priority="high")
    steps = [r for r in GOOD if r["episode_ref"] == "E2"][1:]
    for r in steps:
        council.fire(live.id, r["trigger"], occurred_at=r["occurred_at"], worker=r.get("worker"),
                     outcome=r.get("outcome"), note=r.get("note"), keep_worker=bool(r.get("keep_worker")),
                     to=r.get("to"))
    skip = {"id", "episode_id", "recorded_at", "allocation"}
    imported = council.history(ids_by_ref(council)["E2"])
    assert [{k: v for k, v in h.items() if k not in skip} for h in imported] == [
        {k: v for k, v in h.items() if k not in skip} for h in council.history(live.id)]


def test_reimport_is_a_no_op_and_a_longer_extract_appends(council, tmp_path):
    first = [r for r in GOOD if r["episode_ref"] != "E3" or r["seq"] == 1]
    council.import_history(write_csv(tmp_path / "a.csv", first))
    before = counts(council)
    again = council.import_history(write_csv(tmp_path / "a.csv", first))
    assert (again.new_episodes, again.new_events, again.unchanged_events) == (0, 0, len(first))
    assert counts(council) == before
    # The next extract has E3's referral too: only that row is new.
    more = council.import_history(write_csv(tmp_path / "b.csv", GOOD))
    assert (more.new_episodes, more.new_events, more.extended_episodes) == (0, 1, 1)
    e3 = ids_by_ref(council)["E3"]
    assert council.get(e3).stage == "c1_waiting" and council.get(e3) == council.replay(e3)
    # A live change after the import, then the same file again: still nothing to do.
    council.fire(e3, "allocate", worker="cara")
    assert council.import_history(write_csv(tmp_path / "b.csv", GOOD)).new_events == 0


def test_a_row_that_contradicts_a_stored_event_is_refused(council, tmp_path):
    council.import_history(write_csv(tmp_path / "a.csv", GOOD))
    changed = [dict(r) for r in GOOD]
    changed[3]["occurred_at"] = "2026-01-08"  # E2 seq 2
    err = refused(council, write_csv(tmp_path / "b.csv", changed))
    assert err.extra["errors"] == [{"line": 5, "reason": (
        "conflicts with the stored event seq 2 of episode E2: occurred_at is 2026-01-07T00:00:00+00:00 stored, "
        "2026-01-08T00:00:00+00:00 in the file")}]


def test_dict_rows_and_a_one_shot_iterator(council):
    rows = [{k: v for k, v in r.items()} for r in GOOD]
    assert council.import_history(rows).new_events == 13
    bad = [dict(r, episode_ref="X" + r["episode_ref"]) for r in GOOD]
    bad[4].update(trigger="plan", worker=None)  # XE2 seq 3: plan from c1_waiting
    err = refused(council, iter(bad))
    assert [e["line"] for e in err.extra["errors"]] == [5]
    assert "cannot plan from stage c1_waiting" in err.extra["errors"][0]["reason"]


def test_a_mapping_file_renames_columns_and_maps_codes(council, tmp_path):
    headings = {"episode_ref": "CaseID", "seq": "Step", "person_ref": "PersonID", "client_group": "PSR",
                "trigger": "Action", "occurred_at": "Date", "outcome": "Result"}
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        "[columns]\n" + "".join(f'{k} = "{v}"\n' for k, v in headings.items()) +
        '[codes.client_group]\nLD = "learning_disability"\nMH = "mental_health"\nPHYS = "physical_support"\n'
        '[codes.outcome]\nSIGN = "signposted"\nLTS = "long_term_support"\n'
        '[codes.trigger]\nNEW = "record_contact"\nALLOC = "allocate"\n'
        '[dates]\nformat = "%d/%m/%Y %H:%M"\n')
    codes = {"learning_disability": "LD", "mental_health": "MH", "physical_support": "PHYS", "signposted": "SIGN",
             "long_term_support": "LTS", "record_contact": "NEW", "allocate": "ALLOC"}
    rows = []
    for r in GOOD:
        r = {k: codes.get(v, v) for k, v in r.items()}
        at = dt.datetime.fromisoformat(r["occurred_at"])
        if at.tzinfo is not None:
            at = at.astimezone(dt.timezone(dt.timedelta(hours=1 if at.month > 3 else 0)))
        r["occurred_at"] = at.strftime("%d/%m/%Y %H:%M")
        rows.append({headings.get(k, k): v for k, v in r.items()})
    columns = [headings.get(c, c) for c in COLUMNS]
    summary = council.import_history(write_csv(tmp_path / "council.csv", rows, columns), mapping)
    assert summary.new_events == 13
    refs = ids_by_ref(council)
    assert council.get(refs["E2"]).outcome == "long_term_support"
    assert council.get(refs["E1"]).contact_at == dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    assert council.get(refs["E3"]).contact_at == dt.datetime(2026, 5, 20, 7, 30, tzinfo=dt.UTC)
    # Without the mapping the same file is refused, naming the missing columns.
    err = refused(council, tmp_path / "council.csv")
    assert err.extra["errors"][0]["line"] == 1 and "missing columns episode_ref, seq" in err.detail


def test_the_example_mapping_in_config_loads():
    mapping = ImportMapping.load("config/import-mapping.example.toml")
    assert mapping.columns and mapping.codes["client_group"]


def bad_file(tmp_path, change):
    rows = [dict(r) for r in GOOD]
    change(rows)
    return write_csv(tmp_path / "bad.csv", rows)


def test_every_bad_row_is_listed_by_line_and_nothing_is_written(council, tmp_path):
    def change(rows):
        rows[0]["client_group"] = "LD"  # line 2: unknown code, no mapping
        rows[3]["trigger"] = "plan"  # line 5: E2 seq 2 plan from contact
        rows[11]["team"] = "west"  # line 13: unknown team
        rows[12]["occurred_at"] = "yesterday"  # line 14
    err = refused(council, bad_file(tmp_path, change))
    lines = {e["line"]: e["reason"] for e in err.extra["errors"]}
    assert sorted(lines) == [2, 5, 13, 14]
    assert "unknown client group 'LD'; add it to [codes.client_group]" in lines[2]
    assert "cannot plan from stage contact; allowed from contact: resolve, refer, crisis, close" in lines[5]
    assert "unknown team 'west'" in lines[13]
    assert "occurred_at 'yesterday' is not an ISO 8601 date or time" in lines[14]
    assert err.extra["error_count"] == 4 and "nothing was written" in err.detail


@pytest.mark.parametrize(("change", "line", "words"), [
    (lambda rows: rows.insert(4, dict(rows[3])), 6, "duplicate row: episode E2 seq 2 is also on line 5"),
    (lambda rows: rows.insert(3, rows.pop(4)), 6, "out of order: episode E2 seq 2 comes after seq 3"),
    (lambda rows: rows[5].update(occurred_at="2026-01-01"), 7, "before the episode's previous event"),
    (lambda rows: rows.pop(5), 7, "seq 5 follows seq 3: seq 4 is missing"),
    (lambda rows: rows.append(dict(rows[0], seq=3, trigger="close", outcome="declined")), 15,
     "episode E1's rows are not together"),
    (lambda rows: rows[4].update(worker="cara"), 6, "worker 'cara' is in team 'south', not the episode's team"),
    (lambda rows: rows[4].update(worker="zoe"), 6, "unknown worker 'zoe'"),
    (lambda rows: rows[1].update(outcome="sorted"), 3, "unknown outcome 'sorted'"),
    (lambda rows: rows[2].update(person_ref="Jane Smith"), 4, "never a name"),
    (lambda rows: rows[2].update(trigger="refer"), 4, "first row (seq 1) must be its record_contact"),
    (lambda rows: rows[3].update(occurred_at="2031-01-01"), 5, "is in the future"),
    (lambda rows: rows[3].update(seq="two"), 5, "seq 'two' is not a whole number"),
    (lambda rows: rows[10].update(outcome=""), 12, "close from c3_active: an outcome is required"),
])
def test_each_kind_of_bad_row(council, tmp_path, change, line, words):
    err = refused(council, bad_file(tmp_path, change))
    assert words in {e["line"]: e["reason"] for e in err.extra["errors"]}[line]


def test_a_file_that_is_not_utf8(council, tmp_path):
    rows = [dict(r) for r in GOOD]
    rows[5]["note"] = "Rhôda's request"
    err = refused(council, write_csv(tmp_path / "latin.csv", rows, encoding="latin-1"))
    assert err.extra["errors"] == [{"line": 7, "reason": (
        "not UTF-8 text (byte 0xf4 at column 39); export the extract as UTF-8 (\"CSV UTF-8\")")}]


@pytest.mark.parametrize(("content", "words"), [
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)), "it is a zip archive or an Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "an Excel .xls workbook"),
    (b"\x00\x01\x02binary", "NUL bytes"),
    (b"episode_ref;seq;person_ref\nE1;1;P1\n", "missing columns episode_ref, seq"),
    (b"", "the file is empty"),
])
def test_a_file_that_is_not_csv(council, tmp_path, content, words):
    path = tmp_path / "extract.csv"
    path.write_bytes(content)
    err = refused(council, path)
    assert words in err.detail
    assert err.extra["errors"][0]["line"] == 1


def test_a_row_with_the_wrong_number_of_fields(council, tmp_path):
    path = write_csv(tmp_path / "h.csv", GOOD)
    with open(path, "a") as f:
        f.write("E9,1,P9\n")
    err = refused(council, path)
    assert err.extra["errors"] == [{"line": 15, "reason": "3 fields where the header has 16"}]


def test_the_report_is_capped_with_a_count_of_the_rest(council, tmp_path):
    rows = [dict(GOOD[0], episode_ref=f"E{i}", client_group="LD") for i in range(150)]
    err = refused(council, write_csv(tmp_path / "many.csv", rows))
    assert len(err.extra["errors"]) == 100 and err.extra["error_count"] == 150 and err.extra["not_listed"] == 50
    assert err.extra["errors"][-1]["line"] == 101


def test_a_large_file_in_small_batches(council, tmp_path):
    rows = []
    for i in range(300):
        base = dict(episode_ref=f"B{i:04d}", person_ref=f"P{i}", occurred_at="2026-02-01")
        rows += [dict(base, seq=1, client_group="social_support", team="north", trigger="record_contact"),
                 dict(base, seq=2, trigger="refer"),
                 dict(base, seq=3, trigger="allocate", worker="ben", occurred_at="2026-02-03")]
    seen = []
    summary = council.import_history(write_csv(tmp_path / "big.csv", rows), batch_size=50,
                                     progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert (summary.new_episodes, summary.new_events) == (300, 900)
    assert {p for p, _, _ in seen} == {"checking", "writing"} and seen[-1][1] == seen[-1][2]
    assert sorted(ids_by_ref(council).values()) == list(range(1, 301))
    assert council.import_history(tmp_path / "big.csv", batch_size=64).new_events == 0


def test_the_documented_example_imports(council, tmp_path):
    page = (Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text()
    section = page[page.index("## Backfilling history"):]
    example = section[section.index("```csv\n") + 7:section.index("```", section.index("```csv\n") + 7)]
    (tmp_path / "example.csv").write_text(example)
    summary = council.import_history(tmp_path / "example.csv")
    assert (summary.new_episodes, summary.new_events) == (2, 8)
    refs = ids_by_ref(council)
    assert council.get(refs["MOS-77120"]).outcome == "long_term_support"


def test_the_import_command_prints_a_summary_or_the_report(council, tmp_path, monkeypatch, db_url):
    from typer.testing import CliRunner

    from pathway.cli import app

    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    runner = CliRunner()
    bad = [dict(r) for r in GOOD]
    bad[3]["trigger"] = "plan"
    result = runner.invoke(app, ["import", str(write_csv(tmp_path / "bad.csv", bad))])
    assert result.exit_code == 1
    assert "1 bad row" in result.output and "line 5: cannot plan from stage contact" in result.output
    assert counts(council) == (0, 0, 0, 0)
    result = runner.invoke(app, ["import", str(write_csv(tmp_path / "good.csv", GOOD)), "--actor", "migration"])
    assert result.exit_code == 0, result.output
    assert "3 episodes, 13 events" in result.output and "learning_disability: 1 episodes" in result.output
    assert council.history(ids_by_ref(council)["E1"])[0]["actor"] == "migration"


def test_single_pass_gives_the_same_result_and_still_writes_nothing_when_bad(council, tmp_path):
    bad = [dict(r) for r in GOOD]
    bad[10]["outcome"] = ""  # line 12: close without an outcome, after E1 and most of E2 were written
    before = counts(council)
    with pytest.raises(ValidationError) as info:
        council.import_history(write_csv(tmp_path / "bad.csv", bad), single_pass=True, batch_size=2)
    assert counts(council) == before
    assert [e["line"] for e in info.value.extra["errors"]] == [12]
    summary = council.import_history(write_csv(tmp_path / "good.csv", GOOD), single_pass=True)
    assert (summary.new_episodes, summary.new_events) == (3, 13)
    refs = ids_by_ref(council)
    for episode_id in refs.values():
        assert council.get(episode_id) == council.replay(episode_id)
    assert council.import_history(tmp_path / "good.csv", single_pass=True).new_events == 0


def test_rows_another_import_wrote_meanwhile_are_a_conflict(council, tmp_path):
    from pathway.errors import Conflict

    council.import_history(write_csv(tmp_path / "a.csv", GOOD))
    before = counts(council)
    taken = {"ref": "E1", "episode_id": ids_by_ref(council)["E1"], "imported_at": council.now()}
    with pytest.raises(Conflict, match="another import wrote some of these episodes"):
        with council.store.unit() as uow:
            uow.bulk.write([], [taken], [])
    assert counts(council) == before


def many_episodes(n):
    rows = []
    for i in range(n):
        base = dict(episode_ref=f"B{i:04d}", person_ref=f"P{i}", occurred_at="2026-02-01")
        rows += [dict(base, seq=1, client_group="social_support", team="north", trigger="record_contact"),
                 dict(base, seq=2, trigger="refer"),
                 dict(base, seq=3, trigger="allocate", worker="ben", occurred_at="2026-02-03")]
    return rows


def stored_log(engine):
    with engine.db.connect() as conn:
        events = conn.execute(sa.select(EVENT).order_by(EVENT.c.episode_id, EVENT.c.seq)).mappings().all()
        episodes = conn.execute(sa.select(EPISODE).order_by(EPISODE.c.id)).mappings().all()
    skip = {"id", "recorded_at", "imported_at"}
    return ([{k: v for k, v in e.items() if k not in skip} for e in events],
            [dict(e) for e in episodes], ids_by_ref(engine))


@pytest.mark.parametrize("keep", [0, 100, 50_000], ids=["read-twice", "kept-then-read-twice", "kept"])
def test_kept_or_read_again_the_extract_writes_the_same(council, tmp_path, monkeypatch, keep):
    """A small extract is written from what its check kept; a larger one (here: over ``keep`` new
    events, found part way through) is read and folded again. Both write the same rows."""
    from pathway.services.history import run

    path = write_csv(tmp_path / "big.csv", many_episodes(120) + GOOD)
    monkeypatch.setattr(run, "KEEP_EVENTS", keep)
    summary = council.import_history(path, batch_size=40)
    assert (summary.new_episodes, summary.new_events) == (123, 373)
    events, episodes, refs = stored_log(council)
    assert sorted(refs.values()) == list(range(1, 124)) == [e["id"] for e in episodes]
    assert all(council.get(i) == council.replay(i) for i in (refs["E2"], refs["B0007"], refs["E3"]))
    assert [e["trigger"] for e in events if e["episode_id"] == refs["E2"]][-1] == "close"
    assert council.import_history(path, batch_size=40).new_events == 0


def test_kept_rows_of_an_episode_changed_meanwhile_are_a_conflict(council, tmp_path):
    """Between the check and the write, another import extends an episode this one also extends:
    the kept rows are written only from the version the check read, so this import writes nothing."""
    from pathway.errors import Conflict

    first = [r for r in GOOD if r["episode_ref"] != "E3" or r["seq"] == 1]
    council.import_history(write_csv(tmp_path / "a.csv", first))
    before = counts(council)
    other = write_csv(tmp_path / "other.csv", GOOD)  # extends E3 by its referral

    def meanwhile(phase, done, total):
        if phase == "checking" and done == total:
            council.import_history(other)

    with pytest.raises(Conflict, match="changed while the import ran"):
        council.import_history(write_csv(tmp_path / "b.csv", GOOD), progress=meanwhile)
    assert counts(council) == (before[0], before[1] + 1, before[2], before[3])  # only the other's row


def test_row_checks_and_order_checks_are_listed_together_in_one_pass(council, tmp_path):
    """Six bad rows: four bad on their own, two out of turn in the same episodes. All six, in one report."""
    def change(rows):
        rows[1]["outcome"] = "sorted"  # line 3: unknown outcome (E1 seq 2) ...
        rows.insert(2, dict(rows[1], outcome="signposted"))  # line 4: ... and E1 seq 2 again: duplicate
        rows[4]["occurred_at"] = "yesterday"  # line 6: E2 seq 2 unreadable time ...
        rows[6]["worker"] = "zoe"  # line 8: E2 seq 4 unknown worker ...
        rows.pop(7)  # ... and E2 seq 5 is gone: line 9 (seq 6) follows seq 4
        rows[11]["team"] = "west"  # line 13: E3 seq 1 unknown team
    err = refused(council, bad_file(tmp_path, change))
    reasons = {e["line"]: e["reason"] for e in err.extra["errors"]}
    assert sorted(reasons) == [3, 4, 6, 8, 9, 13], reasons
    assert "unknown outcome 'sorted'" in reasons[3]
    assert "duplicate row: episode E1 seq 2 is also on line 3" in reasons[4]
    assert "occurred_at 'yesterday' is not an ISO 8601 date or time" in reasons[6]
    assert "unknown worker 'zoe'" in reasons[8]
    assert "seq 6 follows seq 4: seq 5 is missing" in reasons[9]
    assert "unknown team 'west'; teams are: north, south" in reasons[13]
    assert err.extra["error_count"] == 6 and err.extra["not_listed"] == 0


def test_how_many_bad_rows_are_listed_is_a_setting(council, tmp_path):
    council.settings = council.settings.model_copy(update={"import_errors_listed": 3})
    rows = [dict(GOOD[0], episode_ref=f"E{i}", client_group="LD") for i in range(10)]
    err = refused(council, write_csv(tmp_path / "many.csv", rows))
    assert [e["line"] for e in err.extra["errors"]] == [2, 3, 4]
    assert (err.extra["error_count"], err.extra["not_listed"]) == (10, 7)
    assert "10 bad rows" in err.detail
