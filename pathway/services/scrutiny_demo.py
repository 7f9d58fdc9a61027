"""What the demo council adds for its scrutiny pack: conversations held as people are referred and
allocated, welfare checks recorded in bulk, and quarterly case-file audits of a 5 % sample.

Drawn from their own random stream (seeded from the council's seed), so the demo's contacts and
moves are those of the council without them."""

from __future__ import annotations

import datetime as dt
import random

from pathway.domain import days
from pathway.domain.conversations import MODES
from pathway.services.audits import quarter_spans

MODE_MIX = (("phone", 0.45), ("video", 0.15), ("home_visit", 0.3), ("community_venue", 0.1))
assert tuple(m for m, _ in MODE_MIX) == MODES
# Case files rated good or better, by quarter in turn (a dip, then better than before).
GOOD_OR_BETTER = (0.83, 0.78, 0.9, 0.86)
RATINGS_BELOW = ("requires_improvement", "requires_improvement", "inadequate")
THEMES = ("strengths-based", "carers", "risk", "recording", "safeguarding", "outcomes")


class DemoScrutiny:
    """The demo's conversations, welfare checks and audits, reproducible from ``seed``."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed * 7907 + 17)

    def _mode(self) -> str:
        x, total = self.rng.random(), 0.0
        for mode, share in MODE_MIX:
            total += share
            if x < total:
                return mode
        return MODE_MIX[-1][0]

    def conversation(self, trigger: str, stage: str) -> dict | None:
        """The conversation recorded with a move, if any: a listening phone call for some referrals,
        and the first conversation of most allocations (held then, as the worker meets the person)."""
        if trigger == "refer" and self.rng.random() < 0.35:
            return {"status": "held", "mode": "phone", "minutes": self.rng.randint(15, 45)}
        if trigger == "allocate" and stage.endswith("_active") and self.rng.random() < 0.8:
            return {"status": "held", "mode": self._mode(), "minutes": self.rng.randint(20, 90)}
        return None

    def welfare_checks(self, start: dt.date, end: dt.date, teams: list[str]) -> str:
        """A CSV of welfare checks made over the last eight weeks to ``end``, on people with no open episode."""
        lines = ["person_ref,team,when,outcome"]
        first = max(start, end - dt.timedelta(days=55))
        n = 0
        for offset in range((end - first).days + 1):
            day = first + dt.timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            for _ in range(self.rng.randint(1, 5)):
                n += 1
                x = self.rng.random()
                outcome = "spoken" if x < 0.62 else "no_answer" if x < 0.88 else "needs_follow_up"
                lines.append(f"WC-{n:05d},{self.rng.choice(teams)},{day}T{self.rng.randint(9, 16):02d}:"
                             f"{self.rng.randint(0, 59):02d}:00+00:00,{outcome}")
        return "\n".join(lines) + "\n"

    def audits(self, engine, start: dt.date, end: dt.date) -> int:
        """Each quarter of the demo: a 5 % sample stratified by team, every sampled case file audited."""
        recorded = 0
        today = days.london_date(engine.now())
        for i, (q_start, q_end, _) in enumerate(quarter_spans(start, end, today)[1:]):
            a, b = max(q_start, start), min(q_end, end)
            if a > b:
                continue
            drawn = engine.audit_sample(a, b, 0.05, seed=7, stratify="team", actor="demo")
            share = GOOD_OR_BETTER[i % len(GOOD_OR_BETTER)]
            for row in drawn["episodes"]:
                on = min(b, today)  # on or after every sampled episode's contact (made by b)
                good = self.rng.random() < share
                rating = ("outstanding" if self.rng.random() < 0.2 else "good") if good else \
                    self.rng.choice(RATINGS_BELOW)
                themes = self.rng.sample(THEMES, self.rng.randint(1, 2))
                engine.record_audit(row["episode_id"], rating, auditor="demo-audit-lead", audited_on=on,
                                    themes=themes, actor="demo")
                recorded += 1
        return recorded
