"""The history import's rules on plain rows: each row's values, and an episode's rows folded in order."""

from __future__ import annotations

import datetime as dt

import pytest

from pathway.services.history.check import RowRefused, Rules
from pathway.services.history.parse import COLUMNS, ImportMapping, RowReader

NOW = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
RULES = Rules(["physical_support"], ["signposted"], {"north"}, {"amira": "north"}, NOW)


def row(line=2, **values):
    given = tuple(values.get(c, "") for c in COLUMNS)
    return RowReader(ImportMapping(codes={"client_group": {"PHYS": "physical_support"}})).read(line, given)


def contact(**more):
    return row(episode_ref="E1", seq="1", person_ref="P1", client_group="PHYS", team="north",
               trigger="record_contact", occurred_at="2026-01-05", **more)


def test_a_row_is_read_as_typed_values_in_our_codes():
    r = contact(keep_worker="yes")
    assert (r.seq, r.client_group, r.keep_worker, r.problems) == (1, "physical_support", True, ())
    assert r.at == dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # midnight in London, in winter


def test_every_problem_of_a_row_is_named_in_one_refusal():
    r = row(episode_ref="E 1", seq="two", trigger="plan", occurred_at="soon", team="west", keep_worker="maybe")
    with pytest.raises(RowRefused) as info:
        RULES.check_row(r)
    for words in ("seq 'two' is not a whole number", "occurred_at 'soon' is not an ISO 8601",
                  "keep_worker 'maybe' must be true or false", "episode_ref 'E 1' must be",
                  "unknown team 'west'"):
        assert words in info.value.reason


def test_an_episode_is_folded_and_a_move_the_pathway_refuses_is_listed():
    listed = []
    rows = [contact(), row(line=3, episode_ref="E1", seq="2", trigger="plan", occurred_at="2026-01-06"),
            row(line=4, episode_ref="E1", seq="2", trigger="refer", occurred_at="2026-01-06")]
    folded = RULES.fold(rows, None, 7, lambda line, reason: listed.append((line, reason)))
    assert not folded.ok and [m[1].stage for m in folded.moves] == ["contact"]
    assert [line for line, _ in listed] == [3, 4]
    assert "cannot plan from stage contact" in listed[0][1]
    assert "duplicate row: episode E1 seq 2 is also on line 3" in listed[1][1]


def test_a_good_episode_folds_to_its_last_state():
    rows = [contact(), row(line=3, episode_ref="E1", seq="2", trigger="refer", occurred_at="2026-01-06"),
            row(line=4, episode_ref="E1", seq="3", trigger="allocate", worker="amira", occurred_at="2026-01-08")]
    folded = RULES.fold(rows, None, 7, lambda line, reason: pytest.fail(reason))
    assert folded.ok and (folded.state.id, folded.state.stage, folded.state.worker) == (7, "c1_active", "amira")
