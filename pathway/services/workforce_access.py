"""The workforce as one caller may use it: skills, role, FTE, line management, absences, releases and
supervision are written by admins and by managers of the worker's team; a duty worker reads their own
record and supervision; every change records the caller as its actor."""

from __future__ import annotations

from pathway.errors import Forbidden
from pathway.services.auth import Access, require, require_team

WRITERS = ("admin", "manager")


class WorkforceAccess:
    """``engine.workforce`` and ``engine.release_all`` guarded by the caller's role and team."""

    def __init__(self, access: Access):
        self.engine = access.engine
        self.actor = access.actor

    def _write(self, worker: str, doing: str) -> dict:
        require(self.actor, *WRITERS, doing=doing)
        row = self.engine.worker(worker)
        require_team(self.actor, row["team"], doing)
        return row

    def _read(self, worker: str, doing: str) -> None:
        """Admins, managers of the worker's team, and the worker themself."""
        if self.actor.role == "duty":
            if self.actor.worker != worker:
                raise Forbidden(f"a duty worker reads only their own record, not {worker!r}'s", role="duty",
                                worker=self.actor.worker)
            return
        self._write(worker, doing)

    def profile(self, worker: str) -> dict:
        self._read(worker, "read workers' records")
        return self.engine.workforce.profile(worker)

    def set_skills(self, worker: str, skills: list[str]) -> dict:
        self._write(worker, "change skills")
        return self.engine.workforce.set_skills(worker, skills, actor=self.actor.label)

    def update(self, worker: str, **fields) -> dict:
        self._write(worker, "change role, FTE or line management")
        return self.engine.workforce.update(worker, actor=self.actor.label, **fields)

    def add_absence(self, worker: str, start, end, reason: str) -> dict:
        self._write(worker, "record absences")
        return self.engine.workforce.add_absence(worker, start, end, reason, actor=self.actor.label)

    def absences(self, worker: str) -> list[dict]:
        self._read(worker, "read absences")
        return self.engine.workforce.absences(worker)

    def release_all(self, worker: str, reason: str):
        self._write(worker, "release a worker's people")
        return self.engine.release_all(worker, reason, actor=self.actor.label)

    def reweigh(self, episode_id: int, weight: float, reason: str) -> dict:
        require(self.actor, *WRITERS, doing="reweigh episodes")
        require_team(self.actor, self.engine.get(episode_id).team, "reweigh episodes")
        return self.engine.workforce.reweigh(episode_id, weight, reason, actor=self.actor.label)

    def record_supervision(self, worker: str, supervisor: str, on, minutes: int, sampled: bool) -> dict:
        self._write(worker, "record supervision")
        return self.engine.workforce.record_supervision(worker, supervisor, on, minutes, sampled,
                                                        actor=self.actor.label)

    def supervisions(self, worker: str) -> list[dict]:
        self._read(worker, "read supervision")
        return self.engine.workforce.supervisions(worker)

    def supervision_report(self, as_at=None, team: str | None = None, by: str | None = None) -> list[dict]:
        require(self.actor, "admin", "manager", "integration", doing="read the supervision report")
        if self.actor.role == "manager":
            team = team or self.actor.team
            require_team(self.actor, team, "read the supervision report")
        return self.engine.reports.supervision(as_at=as_at, team=team, by=by)
