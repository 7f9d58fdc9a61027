"""Who may do what: API tokens, the Actor a token stands for, and the engine's use cases guarded by role.

A token is shown once when it is made and stored only as its SHA-256 hash. Roles:
``duty`` (acts as one worker, in that worker's team), ``manager`` (one team),
``integration`` (a case-management back end), ``admin`` and ``auditor`` (case-file audits, any
team). The rules live here, in ``Access``, so the HTTP routes, the board and any other front door share them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets

from pathway.domain import days
from pathway.domain.checks import request_hash
from pathway.domain.commands import Move, RecordContact
from pathway.errors import Conflict, Forbidden, NotFound, PathwayError, ValidationError
from pathway.services import access_log, episodes
from pathway.store.tokens import PUBLIC_TOKEN_FIELDS

ROLES = ("duty", "manager", "integration", "admin", "auditor")
# A lifetime such as 30d, 12h or 90m; no token is made to last longer than MAX_TOKEN_DAYS.
LIFETIME = re.compile(r"([0-9]{1,6})([dhm])")
LIFETIME_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
MAX_TOKEN_DAYS = 3 * 366
TOKEN_PREFIX = "pw_"
# A reservation this old belongs to a request whose process died before it answered.
ABANDONED = dt.timedelta(minutes=5)


class Unauthorized(PathwayError):
    """No token, or one that is unknown or revoked."""

    code = "unauthorized"
    http_status = 401


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Actor:
    """The caller: a role, bound to a worker (duty) or a team (manager)."""

    role: str
    name: str
    worker: str | None = None
    team: str | None = None
    token_id: int | None = None

    @property
    def label(self) -> str:
        """What the event log records as the actor of a change: the role, who, and the token's id
        (``duty:amira#7``), so two tokens of one name are never one actor."""
        if self.role == "duty":
            who = f"duty:{self.worker}"
        elif self.role == "manager":
            who = f"manager:{self.team}:{self.name}"
        else:
            who = f"{self.role}:{self.name}"
        return who if self.token_id is None else f"{who}#{self.token_id}"


# -- tokens --------------------------------------------------------------------------------------

def expiry(value, role: str, engine) -> dt.datetime:
    """When a new token stops working: ``value`` as a number of days, hours or minutes from now (``30d``,
    ``12h``, ``90m``) or an ISO 8601 date or time; by default the role's lifetime (security.token_days)."""
    now = engine.now()
    if value is None:
        return now + dt.timedelta(days=engine.settings.security.token_days[role])
    if isinstance(value, dt.datetime):
        at = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    else:
        text = str(value).strip()
        found = LIFETIME.fullmatch(text)
        if found is not None:
            at = now + dt.timedelta(**{LIFETIME_UNITS[found.group(2)]: int(found.group(1))})
        else:
            at = days.parse_time(text, "expires")
    if not now < at <= now + dt.timedelta(days=MAX_TOKEN_DAYS):
        raise ValidationError(f"expires must be after now and at most {MAX_TOKEN_DAYS} days ahead "
                              f"(e.g. 30d, 12h or 2027-01-31), not {str(value)[:40]!r}", field="expires")
    return at


def create_token(engine, role: str, *, worker: str | None = None, team: str | None = None,
                 name: str | None = None, actor: str = "cli", expires=None) -> tuple[str, dict]:
    """A new token for ``role``: returns (the token, shown this once; its public record). It works until
    ``expires`` (see :func:`expiry`; by default the role's lifetime)."""
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}", field="role")
    expires_at = expiry(expires, role, engine)
    if name is not None and (not isinstance(name, str) or not 1 <= len(name.strip()) <= 100):
        raise ValidationError("a token name is 1-100 characters", field="name")
    with engine.store.unit() as uow:
        if role == "duty":
            if worker is None:
                raise ValidationError("a duty token acts as one worker: give --worker", field="worker")
            worker_row = episodes.get_worker(uow, worker)
            if team is not None and team != worker_row["team"]:
                raise ValidationError(f"worker {worker!r} is in team {worker_row['team']!r}, not {team!r}",
                                      field="team")
            team = worker_row["team"]
        elif role == "manager":
            if team is None:
                raise ValidationError("a manager token is for one team: give --team", field="team")
            if worker is not None:
                raise ValidationError("a manager token is for a team, not a worker", field="worker")
            episodes.get_team(uow, team)
        elif worker is not None or team is not None:
            raise ValidationError(f"an {role} token is not bound to a worker or a team", field="role")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = {"name": (name or worker or team or role).strip(), "role": role, "worker": worker, "team": team,
               "token_hash": hash_token(token), "created_at": engine.now(), "created_by": actor,
               "revoked_at": None, "expires_at": expires_at}
        row["id"] = uow.tokens.add(row)
    return token, {k: row[k] for k in PUBLIC_TOKEN_FIELDS}


def authenticate(engine, token: str | None) -> Actor:
    """The Actor a bearer token stands for; Unauthorized when it is missing, unknown or revoked."""
    if not token:
        raise Unauthorized("this needs a token: send 'Authorization: Bearer <token>' "
                           "(make one with `pathway token create`)")
    with engine.store.unit(write=False) as uow:
        row = uow.tokens.by_hash(hash_token(token))
    if row is None or row["revoked_at"] is not None:
        raise Unauthorized("the token is unknown or revoked")
    if row["expires_at"] is not None and row["expires_at"] <= engine.now():
        raise Unauthorized(f"the token expired at {row['expires_at'].isoformat()}; ask an admin for a new one")
    return Actor(role=row["role"], name=row["name"], worker=row["worker"], team=row["team"], token_id=row["id"])


def token_active(engine, token_id: int) -> bool:
    """Whether the token still works (it exists, is not revoked and has not expired): a session that a
    token opened (the board's) ends when this turns False."""
    with engine.store.unit(write=False) as uow:
        row = uow.tokens.by_id(token_id)
    return (row is not None and row["revoked_at"] is None
            and (row["expires_at"] is None or row["expires_at"] > engine.now()))


def list_tokens(engine) -> list[dict]:
    with engine.store.unit(write=False) as uow:
        return uow.tokens.listing()


def revoke_token(engine, token_id: int) -> dict:
    with engine.store.unit() as uow:
        row = uow.tokens.revoke(token_id, engine.now())
        if row is None:
            raise NotFound(f"no token {token_id}", token_id=token_id)
        return row


# -- idempotent replies for the writes the engine does not key itself ------------------------------

def idempotent(engine, actor: Actor, key: str | None, body: dict, run,
               keep=lambda reply: reply) -> tuple[int, dict | list | None]:
    """Run ``run()`` -> (status, body) once per (actor, key): a retry with the same request gets the first
    reply (``keep(reply)``: what may be stored of it); the same key with another request is a Conflict.
    The key is reserved before the work so a concurrent duplicate is refused rather than run twice; a
    request that fails frees its key."""
    if key is None:
        return run()
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise ValidationError("idempotency_key is 1-200 characters", field="idempotency_key")
    body_hash = request_hash(body)
    who = actor.label
    with engine.store.unit() as uow:
        found = uow.tokens.request(who, key)
        if found is not None and found.status == 0 and found.created_at < engine.now() - ABANDONED:
            uow.tokens.forget(who, key)  # its process died mid-request: run it again
            found = None
        if found is None and not uow.tokens.reserve(who, key, body_hash, engine.now()):
            # the same key, reserved a moment ago by a concurrent request
            raise Conflict(f"a request with idempotency_key {key!r} is still running; retry shortly")
    if found is not None:
        if found.request_hash != body_hash:
            raise Conflict(f"idempotency_key {key!r} was already used for a different request")
        if found.status == 0:
            raise Conflict(f"a request with idempotency_key {key!r} is still running; retry shortly")
        return found.status, found.response
    try:
        status, reply = run()
    except BaseException:
        with engine.store.unit() as uow:
            uow.tokens.forget(who, key)
        raise
    with engine.store.unit() as uow:
        uow.tokens.answer(who, key, status, keep(reply))
    return status, reply


# -- the use cases, guarded ------------------------------------------------------------------------

def a_token(role: str) -> str:
    """"a duty token", "an admin token", "an integration token": the role's token, as a sentence says it."""
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role} token"


def require(actor: Actor, *roles: str, doing: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"{a_token(actor.role)} may not {doing}; allowed roles: {', '.join(roles)}",
                        role=actor.role, allowed_roles=list(roles))


def require_team(actor: Actor, team: str, doing: str) -> None:
    """Duty workers and managers act only in their own team."""
    if actor.role in ("duty", "manager") and actor.team != team:
        raise Forbidden(f"{a_token(actor.role)} of team {actor.team!r} may not {doing} in team {team!r}",
                        role=actor.role, team=actor.team)


class Access:
    """The engine as one caller may use it: every method checks the role, then records the actor."""

    def __init__(self, engine, actor: Actor, route: str | None = None):
        self.engine = engine
        self.actor = actor
        self.route = route  # how the caller came in (e.g. "GET /episodes/42"): what the access log records

    def _read(self, episode_ids) -> None:
        """Record the caller's read of people's records in the access log."""
        access_log.record(self.engine, self.actor.label, episode_ids, self.route or "library")

    # teams, workers, tokens, webhooks

    def create_team(self, key: str, name: str) -> dict:
        require(self.actor, "admin", doing="create teams")
        return self.engine.create_team(key=key, name=name, actor=self.actor.label)

    def create_worker(self, key: str, name: str, team: str, caseload_cap: int | None = None) -> dict:
        require(self.actor, "admin", "manager", doing="create workers")
        require_team(self.actor, team, "create workers")
        return self.engine.create_worker(key=key, name=name, team=team, caseload_cap=caseload_cap,
                                         actor=self.actor.label)

    def teams(self) -> list[dict]:
        """Every team (any role: the names are what every caller already uses)."""
        return self.engine.teams()

    def staff(self, team: str | None = None) -> list[dict]:
        """Workers with their caseload and cap: every team's for admin and integration, one's own team's
        for a manager or duty worker (their team when none is given)."""
        if team is None and self.actor.role in ("duty", "manager"):
            team = self.actor.team
        if team is not None:
            require_team(self.actor, team, "list workers")
        return self.engine.staff(team)

    def create_token(self, role: str, worker: str | None = None, team: str | None = None,
                     name: str | None = None, expires: str | None = None) -> tuple[str, dict]:
        require(self.actor, "admin", doing="create tokens")
        return create_token(self.engine, role, worker=worker, team=team, name=name, actor=self.actor.label,
                            expires=expires)

    def list_tokens(self) -> list[dict]:
        require(self.actor, "admin", doing="list tokens")
        return list_tokens(self.engine)

    def revoke_token(self, token_id: int) -> dict:
        require(self.actor, "admin", doing="revoke tokens")
        return revoke_token(self.engine, token_id)

    def add_webhook(self, url: str, events: list[str], secret: str | None = None,
                    teams: list[str] | None = None) -> dict:
        require(self.actor, "admin", "integration", doing="add webhooks")
        return self.engine.add_webhook(url, events, secret, teams=teams, actor=self.actor.label)

    def webhooks(self) -> list[dict]:
        require(self.actor, "admin", "integration", doing="list webhooks")
        return self.engine.webhooks()

    def deliveries(self, webhook_id: int, status: str | None = None, limit: int | None = None) -> list[dict]:
        require(self.actor, "admin", "integration", doing="read the delivery log")
        return self.engine.deliveries(webhook_id, status=status, limit=limit)

    def redeliver(self, webhook_id: int, delivery_id: int) -> dict:
        require(self.actor, "admin", "integration", doing="redeliver webhooks")
        return self.engine.redeliver(webhook_id, delivery_id, actor=self.actor.label)

    def rotate_webhook_secret(self, webhook_id: int, secret: str | None = None, overlap: float | None = None) -> dict:
        require(self.actor, "admin", "integration", doing="rotate webhook secrets")
        return self.engine.rotate_webhook_secret(webhook_id, secret, overlap=overlap, actor=self.actor.label)

    def events(self, after: str | None, limit: int, kinds: list[str] | None, team: str | None) -> dict:
        require(self.actor, "integration", "admin", doing="read the event feed")
        return self.engine.events(after, limit=limit, kinds=kinds, team=team)

    # episodes

    def record_contact(self, command: RecordContact):
        require(self.actor, "integration", "duty", "manager", doing="record contacts")
        require_team(self.actor, command.team, "record contacts")
        return self.engine.record_contact(**dataclasses.asdict(command), actor=self.actor.label)

    def _readable(self, episode_id: int):
        ep = self.engine.get(episode_id)
        if self.actor.role == "duty" and ep.team != self.actor.team:
            # The same answer as for a missing episode: another team's episodes are not there to this caller.
            raise NotFound(f"no episode {episode_id}", episode_id=episode_id)
        return ep

    def get(self, episode_id: int):
        ep = self._readable(episode_id)
        self._read([episode_id])
        return ep

    def history(self, episode_id: int) -> list[dict]:
        self._readable(episode_id)
        log = self.engine.history(episode_id)
        self._read([episode_id])
        return log

    def access_log(self, **query) -> dict:
        """Who read whose record (admin)."""
        require(self.actor, "admin", doing="read the access log")
        return access_log.reads(self.engine, **query)

    def move(self, episode_id: int, command: Move):
        require(self.actor, "integration", "duty", "manager", doing="move episodes")
        ep = self._readable(episode_id)
        require_team(self.actor, ep.team, "move episodes")
        for name, what in (("override", "allocate with an override"), ("weight", "weigh a person at allocation")):
            if getattr(command, name) is not None and self.actor.role not in ("manager", "admin"):
                raise Forbidden(f"only a manager may {what}; a {self.actor.role} token may not",
                                role=self.actor.role)
        if self.actor.role == "duty" and command.trigger == "allocate":
            # A duty worker acts only as themself: allocating is taking it on their own caseload.
            if command.worker is not None and command.worker != self.actor.worker:
                raise Forbidden(f"a duty worker acts only as themself: {self.actor.worker!r} may not allocate to "
                                f"{command.worker!r} (a manager may)", role="duty", worker=self.actor.worker)
            command = dataclasses.replace(command, worker=self.actor.worker)
        return self.engine.move(episode_id, command, actor=self.actor.label)

    # duty desk

    def queue(self, team: str):
        require(self.actor, "duty", "manager", doing="see a team's queue")
        require_team(self.actor, team, "see the queue")
        return self.engine.queue(team)

    def claim_next(self, team: str):
        require(self.actor, "duty", doing="claim from the queue")
        require_team(self.actor, team, "claim")
        ep = self.engine.claim_next(team, self.actor.worker, actor=self.actor.label)
        if ep is None:
            raise NotFound(f"nothing waiting in team {team!r}'s queue", team=team)
        return ep

    def claim(self, episode_id: int):
        require(self.actor, "duty", doing="claim episodes")
        ep = self._readable(episode_id)
        require_team(self.actor, ep.team, "claim episodes")
        return self.engine.claim(episode_id, self.actor.worker, actor=self.actor.label)

    # the front door, work trays and the listing of episodes (pathway/services/tray.py)

    def front_door(self, team: str):
        require(self.actor, "duty", "manager", "integration", doing="see a team's front door")
        require_team(self.actor, team, "see the front door")
        return self.engine.front_door(team)

    def tray(self, worker: str):
        """A duty worker reads their own tray; a manager any tray of their team; a back end any tray."""
        require(self.actor, "duty", "manager", "integration", doing="read a work tray")
        if self.actor.role == "duty" and worker != self.actor.worker:
            raise Forbidden(f"a duty worker reads their own tray only: {self.actor.worker!r} may not read "
                            f"{worker!r}'s (their manager may)", role="duty", worker=self.actor.worker)
        if self.actor.role == "manager":
            require_team(self.actor, self.engine.worker(worker)["team"], "read the trays")
        found = self.engine.tray(worker)
        self._read([ep.id for ep in found])
        return found

    def episodes(self, **filters) -> dict:
        """Duty workers and managers list their own team's episodes only; a back end any team's."""
        require(self.actor, "duty", "manager", "integration", doing="list episodes")
        if self.actor.role in ("duty", "manager"):
            if filters.get("team") is None:
                filters["team"] = self.actor.team
            require_team(self.actor, filters["team"], "list episodes")
        return self.engine.episodes(**filters)

    # reports

    def report_team(self, team: str | None) -> str | None:
        """Managers see their own team's reports (their team by default); integrations any team."""
        require(self.actor, "manager", "integration", doing="read reports")
        if self.actor.role == "manager":
            if team is None:
                return self.actor.team
            require_team(self.actor, team, "read reports")
        return team

    def report(self, name: str, **kwargs) -> list[dict]:
        kwargs["team"] = self.report_team(kwargs.get("team"))
        return getattr(self.engine.reports, name)(**{k: v for k, v in kwargs.items() if v is not None})

    # the huddle board

    def see_board(self, team: str) -> None:
        require(self.actor, "manager", "duty", doing="open the huddle board")
        require_team(self.actor, team, "open the huddle board")

    # the scrutiny panel: audits, outreach, its reports and the pack (a conversation is a move's event kind)

    def audit_sample(self, start, end, rate, seed, stratify=None) -> dict:
        require(self.actor, "manager", "auditor", "admin", doing="draw audit samples")
        drawn = self.engine.audit_sample(start, end, rate, seed=seed, stratify=stratify, actor=self.actor.label)
        if self.actor.role == "manager":  # the sample is the council's; a manager sees their own team's part
            drawn = {**drawn, "episodes": [e for e in drawn["episodes"] if e["team"] == self.actor.team]}
        return drawn

    def record_audit(self, episode_id: int, rating: str, **fields) -> dict:
        """A manager audits their own team's case files; an auditor any team's."""
        require(self.actor, "manager", "auditor", doing="record case-file audits")
        team = self.actor.team if self.actor.role == "manager" else None
        auditor = fields.pop("auditor", None) or self.actor.label
        return self.engine.record_audit(episode_id, rating, auditor=auditor, team=team, actor=self.actor.label,
                                        **fields)

    def import_outreach(self, source):
        require(self.actor, "integration", "manager", "admin", doing="import welfare checks")
        only = self.actor.team if self.actor.role == "manager" else None
        return self.engine.import_outreach(source, actor=self.actor.label, only_team=only)

    def scrutiny_report(self, name: str, **kwargs):
        """The scrutiny reports and the pack: managers (their team), integrations, and auditors (audits only)."""
        if self.actor.role == "auditor" and name == "audits":
            return self.engine.reports.audits(**{k: v for k, v in kwargs.items() if v is not None})
        return self.report(name, **kwargs)
