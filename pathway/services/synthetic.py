"""A synthetic council, simulated day by day from a seed, that produces episodes' events the way a real one would.

It is what ``pathway demo`` runs live through the engine and what the benchmarks load in bulk.
The same seed gives the same council and the same events. Nothing here touches a database:
the simulation yields event rows (dicts in the engine's vocabulary) and callers decide how to
load them. People appear only as synthetic references ("P-000123"), never names.

How it behaves, and why:

- Contacts arrive on weekdays (a few at weekends), more in winter than in summer.
- Client groups follow the national Primary Support Reason mix: physical support the largest,
  then memory and cognition, mental health, learning disability, social and sensory support.
- About 45% of contacts are resolved at the front door; most of the rest are met at
  conversation 1; fewer need conversation 3 (long-term support); a few are crises, from the
  contact, from a conversation, some kept by the worker who holds them.
- Workers have caseload caps and take at most a couple of new people a day; a worker off
  sick releases their people back to the queue (the wait clock does not restart).
- Learning disability and mental health contacts are taken only by the team's specialist
  workers and need longer preparation (records, consent, a capacity view) before they can be
  allocated, so they wait longer, as councils report.
- Some people make contact again after their episode closed: a new episode, same person_ref.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from pathway.domain import stages
from pathway.domain.days import LONDON

UTC = dt.UTC

# Share of contacts per client group (national Primary Support Reason mix, roughly).
GROUP_MIX = {
    "physical_support": 0.40,
    "memory_and_cognition": 0.17,
    "mental_health": 0.13,
    "learning_disability": 0.10,
    "social_support": 0.08,
    "sensory_support": 0.07,
    "unknown": 0.05,
}
# Only these specialists take learning disability and mental health work.
SPECIALISMS = ("learning_disability", "mental_health")
# Mean days of preparation between entering a queue and being allocatable, the same for every group:
# learning disability and mental health wait longer only because fewer workers may take them
# (SPECIALISMS, and the skill rules the demo configures from them: skill_rules()).
PREPARATION_DAYS = 3.0
# Share of each group's contacts resolved at the front door.
RESOLVE_AT_CONTACT = {
    "physical_support": 0.46, "memory_and_cognition": 0.40, "mental_health": 0.36,
    "learning_disability": 0.30, "social_support": 0.58, "sensory_support": 0.52, "unknown": 0.62,
}
RESOLVE_OUTCOMES = (("information_and_advice", 0.5), ("signposted", 0.3), ("welfare_check_done", 0.2))
OTHER_CLOSES = (("declined", 0.4), ("no_further_action", 0.3), ("moved_away", 0.2), ("died", 0.1))
PRIORITY_MIX = (("high", 0.15), ("normal", 0.73), ("low", 0.12))
PRIORITY_RANK = {"crisis": 0, "high": 1, "normal": 2, "low": 3}
ROUTE_MIX = (("front_door", 0.35), ("contact_team", 0.2), ("gp", 0.12), ("hospital", 0.1),
             ("family", 0.1), ("self", 0.06), ("welfare_check", 0.05), ("other", 0.02))
TEAM_NAMES = ("north", "south", "east", "west", "central", "coast", "valley", "city",
              "forest", "moor", "harbour", "hills")
# Mean days a worker spends with a person in each conversation.
ACTIVE_DAYS = {"c1": 12.0, "c2": 5.0, "c3": 40.0}
FIELDS = ("episode_ref", "seq", "person_ref", "client_group", "team", "trigger", "occurred_at", "worker",
          "outcome", "priority", "route", "keep_worker", "to")


@dataclass(frozen=True)
class Council:
    """The shape of one synthetic council: when, how busy, how many teams; the seed makes it reproducible."""

    name: str
    start: dt.date
    days: int
    contacts_per_weekday: float
    teams: int
    seed: int = 7
    caseload_cap: int = 30

    @property
    def end(self) -> dt.date:
        """The last simulated day."""
        return self.start + dt.timedelta(days=self.days - 1)

    def expected_contacts(self) -> int:
        weekdays = sum(1 for i in range(self.days) if (self.start + dt.timedelta(days=i)).weekday() < 5)
        return round(self.contacts_per_weekday * (weekdays + WEEKEND_SHARE * (self.days - weekdays)))


WEEKEND_SHARE = 0.08  # a Saturday or Sunday sees this share of a weekday's contacts
# ~100,000 contacts in a year: one large council.
COUNCIL_RATE = 372.0
SIZES = {
    # A few thousand episodes: tests, CI's benchmark runs.
    "small": Council("small", dt.date(2025, 10, 1), 182, 20.0, 3),
    # One large council's year (April to March, as councils report).
    "council": Council("council", dt.date(2025, 4, 1), 365, COUNCIL_RATE, 8),
    # Ten years of that council: ~1,000,000 episodes.
    "decade": Council("decade", dt.date(2016, 4, 1), 3652, COUNCIL_RATE, 8),
}


def demo_council(months: int = 4, seed: int = 7, end: dt.date | None = None) -> Council:
    """The demo's council: ``months`` of contacts ending yesterday (or ``end``), small enough to run live."""
    end = end or (dt.datetime.now(LONDON).date() - dt.timedelta(days=1))
    days = max(1, round(months * 30.44))
    return Council("demo", end - dt.timedelta(days=days - 1), days, 9.0, 2, seed=seed, caseload_cap=25)


@dataclass
class Staff:
    key: str
    name: str
    team: str
    caseload_cap: int
    specialism: str | None
    caseload: int = 0
    sick_until: int = -1  # day index the worker is back
    sick_spells: list = field(default_factory=list)  # (first day, last day) indexes of each sickness


@dataclass
class Ep:
    ref: str
    person_ref: str
    client_group: str
    team: str
    priority: str
    route: str
    stage: str = "contact"
    worker: str | None = None
    seq: int = 0
    last_at: dt.datetime | None = None
    wait_from: dt.datetime | None = None
    token: int = 0  # bumped on every move, so a move scheduled earlier can tell it is stale
    after_crisis: bool = False
    events: list = field(default_factory=list)


def _pick(rng: random.Random, pairs) -> str:
    x = rng.random()
    total = 0.0
    for value, weight in pairs:
        total += weight
        if x < total:
            return value
    return pairs[-1][0]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:  # a normal approximation is plenty for a day's contacts
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _days(rng: random.Random, mean: float) -> int:
    """Whole days, spread like a gamma with shape 2 around ``mean``."""
    return max(1, round(rng.gammavariate(2.0, mean / 2.0)))


def season(day: dt.date) -> float:
    """Contacts peak in January and dip in July."""
    return 1.0 + 0.12 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365.25)


class Simulation:
    """One run of a council: ``days()`` yields each day's events in time order; ``episodes()`` each
    episode's ordered events once it closes (open ones at the end), so a decade never sits in memory."""

    def __init__(self, council: Council):
        self.council = council
        self.rng = random.Random(council.seed)
        self.teams = [{"key": TEAM_NAMES[i % len(TEAM_NAMES)] + ("" if i < len(TEAM_NAMES) else str(i)),
                       "name": TEAM_NAMES[i % len(TEAM_NAMES)].title() + " team"} for i in range(council.teams)]
        self.staff = self._staff()
        self.by_team: dict[str, list[Staff]] = defaultdict(list)
        for s in self.staff:
            self.by_team[s.team].append(s)
        self.staff_index = {s.key: s for s in self.staff}
        self.keep_episodes = True  # episodes() needs each episode's events; events() does not
        self.today: list[dict] = []
        self.open: dict[str, Ep] = {}
        self.ready: dict[tuple[str, str, str], list] = defaultdict(list)  # (team, conversation, specialism) queues
        self.agenda: list = []  # (day, n, action, ref, token)
        self.returns: list = []  # (day, n, person_ref, client_group, team)
        self.n = 0
        self.episodes_started = 0
        self.people = 0
        self.closed_today: list[Ep] = []
        self.latest_today: dt.datetime | None = None  # the day's latest event that is not an allocation

    # -- the council ---------------------------------------------------------------------------

    def _staff(self) -> list[Staff]:
        c = self.council
        referred_per_day = c.contacts_per_weekday * 5 / 7 * 0.55
        # Worker-days of work per referral: conversation 1, and conversation 3 for about one in five.
        load = referred_per_day * (ACTIVE_DAYS["c1"] + 0.2 * ACTIVE_DAYS["c3"] + 0.05 * ACTIVE_DAYS["c2"])
        needed = load / (c.caseload_cap * 0.6) / c.teams  # workers a team needs, all work counted
        # Share of the referred work per kind of worker; only specialists take their own group (and they
        # take anyone else too).
        demand = {g: GROUP_MIX[g] * (1 - RESOLVE_AT_CONTACT[g]) for g in GROUP_MIX}
        total_demand = sum(demand.values())
        rng = random.Random(c.seed * 7919 + 1)
        out = []
        for team in self.teams:
            roles: list[str | None] = []
            for g in SPECIALISMS:
                roles += [g] * max(1, round(needed * demand[g] / total_demand))
            general = needed * (1 - sum(demand[g] for g in SPECIALISMS) / total_demand)
            roles += [None] * max(2, math.ceil(general))
            for i, role in enumerate(roles, 1):
                cap = c.caseload_cap + rng.choice((-5, 0, 0, 5))
                label = {"learning_disability": "learning disability", "mental_health": "mental health"}.get(role, "")
                out.append(Staff(key=f"{team['key']}-w{i:02d}", name=f"{team['name']} worker {i}"
                                 + (f" ({label})" if label else ""), team=team["key"], caseload_cap=cap,
                                 specialism=role))
        return out

    def workers(self) -> list[dict]:
        return [{"key": s.key, "name": s.name, "team": s.team, "caseload_cap": s.caseload_cap} for s in self.staff]

    def managers(self) -> list[dict]:
        """One team manager per team: the line manager and supervisor of the team's workers (no caseload)."""
        return [{"key": f"{t['key']}-manager", "name": f"{t['name']} manager", "team": t["key"]} for t in self.teams]

    def absences(self) -> list[dict]:
        """The workers' sicknesses so far (run the days first): a category, never a diagnosis."""
        return [{"worker": s.key, "start": self._date(first), "end": self._date(last), "reason": "sickness"}
                for s in self.staff for first, last in s.sick_spells]

    def supervisions(self) -> list[dict]:
        """Supervision sessions over the council's days: about every six weeks, mostly two hours, some
        shorter, one record in ten sampled; none while the worker is off sick."""
        rng = random.Random(self.council.seed * 104729 + 3)
        out = []
        for s in self.staff:
            day = rng.randint(0, 40)
            while day < self.council.days:
                if not any(first <= day <= last for first, last in s.sick_spells):
                    out.append({"worker": s.key, "supervisor": f"{s.team}-manager", "on": self._date(day),
                                "minutes": rng.choice((60, 90, 120, 120, 120, 150)), "sampled": rng.random() < 0.1})
                day += rng.randint(30, 60)
        return out

    def skills(self) -> dict[str, list[str]]:
        """Each specialist's skill (a specialism is the skill of the same name)."""
        return {s.key: [s.specialism] for s in self.staff if s.specialism}


    # -- time ----------------------------------------------------------------------------------

    def _date(self, day: int) -> dt.date:
        return self.council.start + dt.timedelta(days=day)

    def _at(self, ep: Ep, day: int, allocation: bool = False) -> dt.datetime:
        """A time during the working day, never before the episode's previous event.

        Contacts and moves happen in the morning; allocations in the afternoon, after every other
        event of the day, so a worker's caseload in time order is the one the simulation checked
        (a close that freed a place comes before the allocation that took it).
        """
        low, high = (13 * 60, 17 * 60 + 30) if allocation else (8 * 60 + 30, 13 * 60)
        minute = self.rng.randint(low, high)
        d = self._date(day)
        at = dt.datetime(d.year, d.month, d.day, minute // 60, minute % 60, tzinfo=LONDON).astimezone(UTC)
        floor = ep.last_at
        if allocation and self.latest_today is not None and (floor is None or self.latest_today > floor):
            floor = self.latest_today
        if floor is not None and at <= floor:
            at = floor + dt.timedelta(minutes=self.rng.randint(1, 20))
        if not allocation and (self.latest_today is None or at > self.latest_today):
            self.latest_today = at
        return at

    def _later(self, day: int, action: str, ep: Ep, after: int = 0) -> None:
        self.n += 1
        heapq.heappush(self.agenda, (day + after, self.n, action, ep.ref, ep.token))

    # -- events --------------------------------------------------------------------------------

    def _event(self, ep: Ep, day: int, trigger: str, *, worker=None, outcome=None, keep_worker=False,
               to=None) -> None:
        at = self._at(ep, day, allocation=trigger == "allocate")
        ep.seq += 1
        ep.last_at = at
        ep.token += 1
        row = {
            "episode_ref": ep.ref, "seq": ep.seq, "person_ref": ep.person_ref, "client_group": ep.client_group,
            "team": ep.team, "trigger": trigger, "occurred_at": at, "worker": worker, "outcome": outcome,
            "priority": ep.priority, "route": ep.route, "keep_worker": keep_worker, "to": to,
        }
        self.today.append(row)
        if self.keep_episodes:
            ep.events.append(row)

    def _contact(self, day: int, person_ref: str | None = None, group: str | None = None,
                 team: str | None = None) -> None:
        rng = self.rng
        self.episodes_started += 1
        if person_ref is None:
            self.people += 1
            person_ref = f"P-{self.people:06d}"
            group = _pick(rng, GROUP_MIX.items())
            team = rng.choice(self.teams)["key"]
        crisis = rng.random() < 0.02
        ep = Ep(ref=f"E-{self.episodes_started:07d}", person_ref=person_ref, client_group=group, team=team,
                priority="crisis" if crisis else _pick(rng, PRIORITY_MIX), route=_pick(rng, ROUTE_MIX))
        self.open[ep.ref] = ep
        self._event(ep, day, "record_contact")
        x = rng.random()
        p_resolve = RESOLVE_AT_CONTACT[group]
        if crisis:
            self._later(day, "crisis", ep)
        elif x < p_resolve:
            self._later(day, "resolve", ep, 0 if rng.random() < 0.7 else rng.randint(1, 3))
        elif x < p_resolve + 0.03:
            self._later(day, "close", ep, rng.randint(0, 5))
        else:
            self._later(day, "refer", ep, 0 if rng.random() < 0.6 else rng.randint(1, 2))

    def _wait(self, ep: Ep, day: int, conversation: str, *, restart_clock: bool = True) -> None:
        """The episode joins its conversation's queue once prepared; meanwhile it may close or reach crisis."""
        rng = self.rng
        ep.stage = f"{conversation}_waiting"
        ep.worker = None
        if restart_clock:
            ep.wait_from = ep.last_at
        if conversation == "c2":
            self._queue(ep, conversation)
            if rng.random() < 0.03:  # the crisis passes, or the person declines, before anyone is free
                self._later(day, "close_waiting", ep)
            return
        if restart_clock:
            mean = PREPARATION_DAYS * (1.4 if conversation == "c3" else 1)
            self._later(day, "ready", ep, _days(rng, mean))
        else:  # a release: back to the queue at once, keeping the place its wait_from gives it
            self._queue(ep, conversation)
        x = rng.random()
        if x < 0.02:
            self._later(day, "crisis_waiting", ep, rng.randint(1, 20))
        elif x < 0.07:
            self._later(day, "close_waiting", ep, rng.randint(1, 30))

    def _queue(self, ep: Ep, conversation: str) -> None:
        kind = ep.client_group if ep.client_group in SPECIALISMS and conversation != "c2" else None
        self.n += 1
        heapq.heappush(self.ready[(ep.team, conversation, kind)],
                       (PRIORITY_RANK[ep.priority], ep.wait_from, self.n, ep.ref, ep.token))

    def _close(self, ep: Ep, day: int, trigger: str, outcome: str) -> None:
        if ep.worker:
            self._staff_of(ep.worker).caseload -= 1
        self._event(ep, day, trigger, outcome=outcome)
        ep.stage, ep.worker = "closed", None
        del self.open[ep.ref]
        self.closed_today.append(ep)
        if self.rng.random() < 0.06:  # some people come back: a new episode, the same person
            self.n += 1
            heapq.heappush(self.returns, (day + self.rng.randint(20, 240), self.n, ep.person_ref,
                                          ep.client_group, ep.team))

    def _staff_of(self, key: str) -> Staff:
        return self.staff_index[key]

    def _allocate(self, ep: Ep, worker: Staff, day: int) -> None:
        conversation = stages.conversation(ep.stage)
        self._event(ep, day, "allocate", worker=worker.key)
        ep.stage, ep.worker = f"{conversation}_active", worker.key
        worker.caseload += 1
        self._later(day, "finish", ep, _days(self.rng, ACTIVE_DAYS[conversation]))

    def _crisis(self, ep: Ep, day: int, keep: bool) -> None:
        if keep:
            self._event(ep, day, "crisis", keep_worker=True)
            ep.stage = "c2_active"
            ep.wait_from = ep.last_at
            self._later(day, "finish", ep, _days(self.rng, ACTIVE_DAYS["c2"]))
            return
        if ep.worker:
            self._staff_of(ep.worker).caseload -= 1
        self._event(ep, day, "crisis")
        self._wait(ep, day, "c2")

    # -- the day's work ------------------------------------------------------------------------

    def _act(self, day: int, action: str, ep: Ep) -> None:
        rng = self.rng
        if action == "resolve":
            self._close(ep, day, "resolve", _pick(rng, RESOLVE_OUTCOMES))
        elif action == "close":
            self._close(ep, day, "close", _pick(rng, OTHER_CLOSES))
        elif action == "refer":
            self._event(ep, day, "refer")
            ep.wait_from = None
            self._wait(ep, day, "c1")
        elif action == "crisis":
            self._crisis(ep, day, keep=False)
        elif action == "ready":  # prepared: now in the queue (not a move, so the token stands)
            self._queue(ep, stages.conversation(ep.stage))
        elif action == "crisis_waiting":
            self._crisis(ep, day, keep=False)
        elif action == "close_waiting":
            self._close(ep, day, "close", _pick(rng, OTHER_CLOSES))
        elif action == "finish":
            self._finish(ep, day)

    def _finish(self, ep: Ep, day: int) -> None:
        """The worker's time with the person ends: what happens next depends on the conversation."""
        rng = self.rng
        x = rng.random()
        if ep.stage == "c1_active":
            crisis_p = 0.01 if ep.after_crisis else 0.05
            if x < crisis_p:
                ep.after_crisis = True
                self._crisis(ep, day, keep=rng.random() < 0.5)
            elif x < crisis_p + 0.18:
                self._staff_of(ep.worker).caseload -= 1
                self._event(ep, day, "plan")
                self._wait(ep, day, "c3")
            elif x < crisis_p + 0.26:
                self._close(ep, day, "close", _pick(rng, OTHER_CLOSES))
            else:
                self._close(ep, day, "close", "met_at_c1")
        elif ep.stage == "c2_active":
            if x < 0.45:
                self._event(ep, day, "stabilise", to="c1")
                ep.stage = "c1_active"
                ep.wait_from = ep.last_at
                self._later(day, "finish", ep, _days(rng, ACTIVE_DAYS["c1"]))
            elif x < 0.75:
                self._staff_of(ep.worker).caseload -= 1
                self._event(ep, day, "stabilise", to="c3")
                self._wait(ep, day, "c3")
            elif x < 0.95:
                self._close(ep, day, "close", "crisis_resolved")
            else:
                self._close(ep, day, "close", _pick(rng, (("died", 0.5), ("declined", 0.5))))
        elif ep.stage == "c3_active":
            if x < 0.04 and not ep.after_crisis:
                ep.after_crisis = True
                self._crisis(ep, day, keep=rng.random() < 0.5)
            elif x < 0.88:
                self._close(ep, day, "close", "long_term_support")
            else:
                self._close(ep, day, "close", _pick(rng, OTHER_CLOSES))

    def _sickness(self, day: int) -> None:
        for s in self.staff:
            if s.sick_until <= day and self.rng.random() < 0.006:
                s.sick_until = day + self.rng.randint(3, 15)
                s.sick_spells.append((day, s.sick_until - 1))
                for ep in [e for e in self.open.values() if e.worker == s.key]:
                    conversation = stages.conversation(ep.stage)
                    s.caseload -= 1
                    self._event(ep, day, "release")
                    self._wait(ep, day, conversation, restart_clock=False)

    def _allocation(self, day: int, working: bool) -> None:
        """Duty workers take from their team's queues: crises first (any day, over cap if need be)."""
        rng = self.rng
        for team in self.teams:
            key = team["key"]
            present = [s for s in self.by_team[key] if s.sick_until <= day]
            if not present:
                continue
            crisis_queue = self.ready[(key, "c2", None)]
            while crisis_queue:
                ep = self._pop(crisis_queue)
                if ep is None:
                    continue
                self._allocate(ep, min(present, key=lambda s: (s.caseload, rng.random())), day)
            if not working:
                continue
            rng.shuffle(present)
            for s in present:
                for _ in range(2 if rng.random() < 0.5 else 1):
                    if s.caseload >= s.caseload_cap:
                        break
                    ep = self._next_for(s)
                    if ep is None:
                        break
                    self._allocate(ep, s, day)

    def _next_for(self, s: Staff) -> Ep | None:
        """The worker's next person: the highest priority, longest waiting, in queues they may take (a
        specialist takes anyone; only a specialist takes their group), as the engine's claim does."""
        kinds = (None,) if s.specialism is None else (None, s.specialism)
        queues = [self.ready[(s.team, c, kind)] for c in ("c1", "c3") for kind in kinds]
        while True:
            heads = [(q[0], q) for q in queues if q]
            if not heads:
                return None
            _, queue = min(heads, key=lambda h: h[0][:3])
            ep = self._pop(queue)
            if ep is not None:
                return ep

    def _pop(self, queue: list) -> Ep | None:
        _, _, _, ref, token = heapq.heappop(queue)
        ep = self.open.get(ref)
        if ep is None or ep.token != token or not ep.stage.endswith("_waiting"):
            return None
        return ep

    # -- running -------------------------------------------------------------------------------

    def days(self) -> Iterator[tuple[dt.date, list[dict]]]:
        """Each simulated day with its events, in time order (a move's events stay in sequence)."""
        c = self.council
        for day in range(c.days):
            date = self._date(day)
            working = date.weekday() < 5
            self.closed_today = []
            self.today = []
            self.latest_today = None
            if working:
                self._sickness(day)
            rate = c.contacts_per_weekday * season(date) * (1.0 if working else WEEKEND_SHARE)
            for _ in range(_poisson(self.rng, rate)):
                self._contact(day)
            while self.returns and self.returns[0][0] <= day:
                _, _, person_ref, group, team = heapq.heappop(self.returns)
                self._contact(day, person_ref, group, team)
            while self.agenda and self.agenda[0][0] <= day:
                _, _, action, ref, token = heapq.heappop(self.agenda)
                ep = self.open.get(ref)
                if ep is not None and ep.token == token:
                    self._act(day, action, ep)
            self._allocation(day, working)
            # Stable sort: an episode's events keep their order even at the same minute.
            self.today.sort(key=lambda e: e["occurred_at"])
            yield date, self.today

    def events(self) -> Iterator[dict]:
        """Every event in time order, day by day."""
        self.keep_episodes = False
        for _, todays in self.days():
            yield from todays

    def episodes(self) -> Iterator[list[dict]]:
        """Each episode's events in sequence: closed ones as they close, the still-open ones at the end."""
        self.keep_episodes = True
        for _ in self.days():
            for ep in self.closed_today:
                yield ep.events
                ep.events = []
        for ep in sorted(self.open.values(), key=lambda e: e.ref):
            yield ep.events


def skill_rules() -> list[dict]:
    """The workforce's skill rules of the synthetic council: each specialism's group needs its skill in
    conversations 1 and 3; a crisis is taken by whoever is free."""
    return [{"client_group": g, "skill": g, "stage": stage}
            for g in SPECIALISMS for stage in ("c1_waiting", "c3_waiting")]


def rows(council: Council) -> Iterator[dict]:
    """Every event row of ``council``, episode by episode (for bulk import)."""
    for events in Simulation(council).episodes():
        yield from events


__all__ = ["Council", "SIZES", "Simulation", "demo_council", "rows", "skill_rules", "FIELDS", "GROUP_MIX"]
