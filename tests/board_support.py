"""A busy team for the board's browser tests: ten client groups, forty people waiting, eight workers.

Sized like the team a manager puts on the huddle-room screen, so the tests see what the TV sees:
more people waiting than the list can hold, groups with nobody waiting, workers at and over cap,
client groups whose targets differ from the default, people at the front door, casework flagged
for discussion and standing still, and people nobody on duty has the skill for.
"""

from __future__ import annotations

import datetime as dt

from pathway import Engine
from pathway.settings import Settings

EXTRA_GROUPS = ["dementia", "autism", "carers"]
GROUP_TARGETS = {"mental_health": {"c1_waiting": 14}, "learning_disability": {"c1_waiting": 21}}
WORKERS = [("amira", "Amira Khan", 3), ("ben", "Ben Okafor", 35), ("chloe", "Chloe Evans", 30),
           ("dev", "Dev Patel", 30), ("erin", "Erin Walsh", 30), ("farah", "Farah Ali", 30),
           ("gus", "Gus Reid", 30), ("hana", "Hana Sato", 30)]
# (person_ref, client group, days ago the contact came in, priority, how it waits)
PEOPLE = [
    ("P-000701", "learning_disability", 4, "normal", "crisis"),
    ("P-000702", "mental_health", 25, "normal", "c1"),
    ("P-000703", "physical_support", 6, "high", "c1"),
    ("P-000704", "dementia", 19, "low", "c1"),
    ("P-000705", "autism", 3, "crisis", "c1"),
] + [(f"P-{720 + i:06d}", g, d, p, "c1") for i, (g, d, p) in enumerate(
    [("physical_support", 18, "normal"), ("mental_health", 17, "normal"), ("learning_disability", 23, "normal"),
     ("memory_and_cognition", 15, "normal"), ("sensory_support", 12, "low"), ("carers", 11, "normal"),
     ("physical_support", 10, "normal"), ("dementia", 9, "normal"), ("social_support", 9, "normal"),
     ("physical_support", 8, "normal"), ("mental_health", 8, "normal"), ("autism", 7, "normal"),
     ("physical_support", 7, "normal"), ("memory_and_cognition", 6, "normal"), ("learning_disability", 6, "normal"),
     ("physical_support", 5, "normal"), ("carers", 5, "normal"), ("physical_support", 4, "normal"),
     ("mental_health", 4, "normal"), ("dementia", 3, "normal"), ("physical_support", 3, "normal"),
     ("sensory_support", 2, "normal"), ("physical_support", 2, "normal"), ("autism", 2, "normal"),
     ("memory_and_cognition", 1, "normal"), ("physical_support", 1, "normal"), ("social_support", 1, "normal"),
     ("learning_disability", 1, "normal"), ("physical_support", 0, "normal"), ("mental_health", 0, "normal")])
] + [("P-000790", "physical_support", 40, "normal", "c3"), ("P-000791", "memory_and_cognition", 12, "normal", "c3"),
     ("P-000792", "learning_disability", 30, "normal", "c3")]
# (person_ref, client group, days ago the contact came in): at the front door, not yet referred
FRONT_DOOR = [("P-000760", "mental_health", 2), ("P-000761", "physical_support", 0)]
# Sensory support needs the sensory skill, which nobody in north has: nobody on duty can take them.
SKILL_RULES = [{"client_group": "sensory_support", "skill": "sensory"}]
TODAY = dt.datetime(2026, 5, 20, 11, 0, tzinfo=dt.UTC)  # a Wednesday: this week is partial


def busy_settings() -> Settings:
    return Settings(_env_file=None, extra_client_groups=EXTRA_GROUPS,
                    thresholds={"by_client_group": GROUP_TARGETS}, workforce={"require": SKILL_RULES})


def busy_team(engine: Engine, clock) -> dict:
    """Team north as above, with eight weeks of history for the trend; returns {person_ref: episode id}."""
    engine.create_team(key="north", name="North Locality")
    engine.create_team(key="south", name="South")
    for key, name, cap in WORKERS:
        engine.create_worker(key=key, name=name, team="north", caseload_cap=cap)
    engine.create_worker(key="cara", name="Cara", team="south")
    ids = {}
    # history: people who came and were allocated over the last eight weeks
    for week in range(8, 0, -1):
        for n in range(3):
            clock.set(TODAY - dt.timedelta(days=7 * week + n))
            ep = engine.record_contact(f"P-0006{week}{n}", "physical_support", "north")
            engine.fire(ep.id, "refer")
            clock.set(TODAY - dt.timedelta(days=7 * week - 3 - n))
            engine.fire(ep.id, "allocate", worker=WORKERS[1 + (week + n) % 7][0])
    for ref, group, ago, priority, how in sorted(PEOPLE, key=lambda p: -p[2]):
        clock.set(TODAY - dt.timedelta(days=ago, hours=1))
        ep = engine.record_contact(ref, group, "north", priority=priority)
        if how == "crisis":
            ep = engine.fire(ep.id, "crisis")
        else:
            ep = engine.fire(ep.id, "refer")
            if how == "c3":
                ep = engine.fire(ep.id, "allocate", worker="ben")
                ep = engine.fire(ep.id, "plan")
        ids[ref] = ep.id
    for ref, group, ago in FRONT_DOOR:
        clock.set(TODAY - dt.timedelta(days=ago, hours=2))
        ids[ref] = engine.record_contact(ref, group, "north").id
    clock.set(TODAY - dt.timedelta(days=2))
    for n in range(3):  # amira at her cap of 3
        ep = engine.record_contact(f"P-00065{n}", "physical_support", "north")
        engine.fire(engine.fire(ep.id, "refer").id, "allocate", worker="amira")
        ids[f"P-00065{n}"] = ep.id
    clock.set(TODAY - dt.timedelta(days=1))
    engine.fire(ids["P-000650"], "flag", reason="family asking for a meeting")
    clock.set(TODAY)
    return ids
