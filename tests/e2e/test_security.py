"""The API's edges held against misuse: body limits, time and reference policies, what one caller can learn
of another's records, who is recorded as the actor, and what reaches the logs. Each test is on both databases."""

from __future__ import annotations

import concurrent.futures
import logging
import socket
import time

import httpx
import pytest
from api_support import assert_error, count, live_server, make_api
from test_api_imports import GOOD, as_csv

from pathway.services.auth import create_token


@pytest.fixture
def api(council):
    return make_api(council)


def _raw(base: str, head: str, body: bytes = b"", wait: float = 5.0) -> bytes:
    """Send a request's head (and part of a body) on a plain socket; what the server answers within ``wait``."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        got = b""
        deadline = time.monotonic() + wait
        while b"\r\n\r\n" not in got and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


# 1. Memory exhaustion: no body is read before the caller is known, and no body passes its limit.

def test_a_body_without_a_token_is_refused_before_it_is_read(council):
    with live_server(council) as base:
        # 300 MB announced, 10 bytes sent: the answer comes without waiting for the rest.
        head = ("POST /contacts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {300 * 1024 * 1024}")
        assert _raw(base, head, b'{"person_').startswith(b"HTTP/1.1 413")
        head = "POST /contacts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000"
        assert _raw(base, head, b'{"person_').startswith(b"HTTP/1.1 401")
    assert count(council, "episode") == 0


def test_bodies_over_their_limit_are_413_naming_the_limit(api):
    limit = api.engine.settings.security.json_body_max
    big = {"person_ref": "LAS-1", "client_group": "unknown", "team": "north", "route": "x" * limit}
    assert_error(api.post("/contacts", "integration", json=big), 413, "too_large", str(limit), "json_body_max")

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"person_ref": "LAS-1", "note": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    r = api.post("/contacts", "integration", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(r, 413, "too_large", str(limit))
    assert count(api.engine, "episode") == 0


def test_an_import_over_its_limit_is_413_and_leaves_no_upload(council, tmp_path):
    council.settings = council.settings.model_copy(update={"security": council.settings.security.model_copy(
        update={"import_body_max": 2048, "upload_dir": str(tmp_path / "uploads")})})
    api = make_api(council)
    body = as_csv(GOOD * 20)
    assert len(body) > 2048
    r = api.post("/imports", "integration", content=body, headers={"Content-Type": "text/csv"})
    assert_error(r, 413, "too_large", "2048", "import_body_max")
    assert list((tmp_path / "uploads").iterdir()) == []
    assert count(council, "episode") == 0


# 3. The importer is recorded; the extract's actor is only its source.

def test_an_import_cannot_forge_its_events_actors(api):
    rows = [dict(r, actor="manager:north:nadia") for r in GOOD]
    assert api.post("/imports", "integration", content=as_csv(rows),
                    headers={"Content-Type": "text/csv"}).status_code == 200
    for episode_id in (1, 2, 3):
        log = api.engine.history(episode_id)
        assert {e["actor"] for e in log} == {api.actors["integration"]}
        assert {e["data"]["source_actor"] for e in log} == {"manager:north:nadia"}


# 4. Concurrent duplicates answer a replay or 409, never 500, and no person data reaches a log.

ROUNDS = 5


def _at_once(n: int, call) -> list:
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: call(), range(n)))


def test_concurrent_duplicates_never_fail_and_log_no_person_data(api, caplog):
    refs = [f"LAS-4{i:04d}" for i in range(ROUNDS)]
    with caplog.at_level(logging.DEBUG), live_server(api.engine) as base, httpx.Client(base_url=base) as client:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # statements logged: never their values

        def post(path, who, headers=(), **kw):
            return client.post(path, headers={"Authorization": f"Bearer {api.tokens[who]}", **dict(headers)}, **kw)

        for n, ref in enumerate(refs):
            body = {"person_ref": ref, "client_group": "unknown", "team": "north", "idempotency_key": f"c-{ref}"}
            answers = _at_once(8, lambda body=body: post("/contacts", "integration", json=body))
            assert {r.status_code for r in answers} <= {201, 409}, [r.text for r in answers]
            assert len({r.json()["id"] for r in answers if r.status_code == 201}) == 1
            worker = {"key": f"w{n}", "name": "W", "team": "north", "idempotency_key": f"w-{ref}"}
            answers = _at_once(8, lambda worker=worker: post("/workers", "manager", json=worker))
            assert {r.status_code for r in answers} <= {201, 409}, [r.text for r in answers]
        for n in range(3):  # the same new file twice at once
            rows = [dict(r, episode_ref=f"R{n}{r['episode_ref']}", person_ref=r.get("person_ref") and f"LAS-5{n}{i}")
                    for i, r in enumerate(GOOD)]
            refs += [r["person_ref"] for r in rows if r["person_ref"]]
            answers = _at_once(2, lambda rows=rows: post("/imports", "integration", content=as_csv(rows),
                                                         headers={"Content-Type": "text/csv"}))
            assert {r.status_code for r in answers} <= {200, 409}, [r.text for r in answers]
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert count(api.engine, "episode") == ROUNDS + 3 * 3
    assert all(ref not in caplog.text for ref in refs)
    assert all(f"c-{ref}" not in caplog.text for ref in refs)


# 5. A date horizon: nothing before the earliest date, nothing past the engine's range, never a 500.

EDGES = ["0001-01-01", "1989-12-31T23:00:00+00:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
         "2026-06-01T10:00:00+00:00"]


def test_times_outside_the_horizon_are_422(api, subtests):
    ep = api.contact()
    for at in EDGES:
        with subtests.test(at=at):
            body = {"person_ref": "LAS-2", "client_group": "unknown", "team": "north", "occurred_at": at}
            assert_error(api.post("/contacts", "integration", json=body), 422, "validation_error", "occurred_at")
            assert_error(api.post(f"/episodes/{ep['id']}/events", "integration",
                                  json={"trigger": "refer", "occurred_at": at}), 422, "validation_error")
    assert count(api.engine, "episode") == 1 and count(api.engine, "event") == 1
    for path, params in (("/reports/outcomes", {"from": "0001-01-01", "to": "9999-12-31"}),
                         ("/reports/forecast", {"as_at": "0001-01-01"}),
                         ("/reports/waits", {"as_at": "1989-12-31"}),
                         ("/reports/allocation", {"from": "2026-01-01", "to": "9999-12-31"})):
        with subtests.test(path=path):
            assert_error(api.get(path, "integration", params=params), 422, "validation_error", "outside")


def test_an_import_lists_each_row_outside_the_horizon(api):
    rows = [dict(GOOD[0], occurred_at="0001-01-01T00:00:00+01:00"), dict(GOOD[1], occurred_at="0001-01-01"),
            *GOOD[2:]]
    body = assert_error(api.post("/imports", "integration", content=as_csv(rows),
                                 headers={"Content-Type": "text/csv"}), 422, "validation_error", "nothing was written")
    assert [e["line"] for e in body["errors"]][:2] == [2, 3]
    assert count(api.engine, "episode") == 0


# 6. A person reference is the case record system's, never a name or an NHS number (unless configured).

NOT_REFERENCES = ["JohnSmith", "john.smith", "Mary-Jane", "J.Smith-1950-03-02", "9434765919", "NHS:9434765919",
                  "943-476-5919"]


def test_names_and_nhs_numbers_are_not_person_references(api, subtests):
    for ref in NOT_REFERENCES:
        with subtests.test(ref=ref):
            r = api.post("/contacts", "integration", json={"person_ref": ref, "client_group": "unknown",
                                                           "team": "north"})
            assert_error(r, 422, "validation_error", "person_ref")
            rows = [dict(GOOD[0], person_ref=ref), GOOD[1]]
            body = assert_error(api.post("/imports", "integration", content=as_csv(rows),
                                         headers={"Content-Type": "text/csv"}), 422, "validation_error")
            assert "person_ref" in body["errors"][0]["reason"]
    assert count(api.engine, "episode") == 0
    assert api.contact(person_ref="9434765918")["person_ref"] == "9434765918"  # ten digits, not an NHS number


def test_a_council_that_uses_nhs_numbers_may_say_so(council):
    council.settings = council.settings.model_copy(update={"security": council.settings.security.model_copy(
        update={"nhs_numbers": True, "person_ref_pattern": r"^(NHS:)?[0-9]{10}$"})})
    api = make_api(council)
    assert api.contact(person_ref="NHS:9434765919")["person_ref"] == "NHS:9434765919"
    assert_error(api.post("/contacts", "integration", json={"person_ref": "LAS-1", "client_group": "unknown",
                                                            "team": "north"}), 422, "validation_error", "pattern")


# 7. Nothing tells one team that another team's episode exists.

def test_another_teams_episode_and_keys_are_not_there(api):
    north = api.contact(idempotency_key="front-1")
    missing = api.get("/episodes/999", "cara")
    for r in (api.get(f"/episodes/{north['id']}", "cara"), api.get(f"/episodes/{north['id']}/events", "cara"),
              api.post(f"/episodes/{north['id']}/events", "cara", json={"trigger": "refer"})):
        assert_error(r, 404, "not_found")
        assert set(r.json()) == set(missing.json()) and "north" not in r.text
    south = api.post("/contacts", "cara", json={"person_ref": "LAS-2", "client_group": "unknown", "team": "south",
                                                "idempotency_key": "front-1"})
    assert south.status_code == 201 and south.json()["id"] != north["id"]  # its own key: not north's 409


# 8. Two tokens of one name are two actors.

def test_two_tokens_with_one_name_are_two_actors(api):
    first, _ = create_token(api.engine, "admin", name="ops", actor="test")
    second, _ = create_token(api.engine, "admin", name="ops", actor="test")
    body = {"key": "east", "name": "East", "idempotency_key": "same"}
    a = api.post("/teams", headers={"Authorization": f"Bearer {first}"}, json=body)
    assert a.status_code == 201, a.text
    # Not the first one's stored reply: the second token's request runs, and the team exists already.
    b = api.post("/teams", headers={"Authorization": f"Bearer {second}"}, json=body)
    assert_error(b, 409, "conflict", "already exists")
    c = api.post("/teams", headers={"Authorization": f"Bearer {second}"}, json={**body, "key": "west"})
    assert c.status_code == 201 and a.json()["created_by"] != c.json()["created_by"]
    assert all(r.json()["created_by"].startswith("admin:ops#") for r in (a, c))


# 12. A move from a stale view is refused.

def test_moves_from_a_stale_view_are_412(api):
    ep = api.contact()
    view = api.get(f"/episodes/{ep['id']}", "integration")
    tag = view.headers["ETag"]
    assert api.post(f"/episodes/{ep['id']}/events", "integration", json={"trigger": "refer"},
                    headers={"If-Match": tag}).status_code == 200
    for trigger in ("crisis", "close"):
        body = {"trigger": trigger, **({"outcome": "declined"} if trigger == "close" else {})}
        assert_error(api.post(f"/episodes/{ep['id']}/events", "integration", json=body, headers={"If-Match": tag}),
                     412, "stale_version")
    assert [e["trigger"] for e in api.get(f"/episodes/{ep['id']}/events", "integration").json()] == [
        "record_contact", "refer"]


# 10. Strict types at the edge, a length on every field, and CSV a spreadsheet cannot run.

def test_loose_values_are_422(api, subtests):
    token = api.post("/tokens", "admin", json={"role": "integration", "name": "spare"}).json()
    for method, path, body in (
            ("DELETE", f"/tokens/{token['id']}.0", None), ("DELETE", "/tokens/\u0661", None),
            ("DELETE", "/tokens/+1", None), ("GET", "/episodes/1.0", None),
            ("POST", "/workers", {"key": "dev", "name": "Dev", "team": "north", "caseload_cap": True}),
            ("POST", "/workers", {"key": "dev", "name": "Dev", "team": "north", "caseload_cap": 20.0}),
            ("POST", "/contacts", {"person_ref": "LAS-1", "client_group": "unknown", "team": "north", "priority": 1}),
            ("POST", "/contacts", {"person_ref": "LAS-1", "client_group": "unknown", "team": "north",
                                   "route": "r" * 65})):
        with subtests.test(path=path, body=body):
            r = api.request(method, path, "admin" if "tokens" in path or "workers" in path else "integration",
                            json=body)
            assert_error(r, 422, "validation_error")
    assert api.get("/tokens", "admin").json()[-1]["revoked_at"] is None
    assert count(api.engine, "worker") == 3 and count(api.engine, "episode") == 0


def test_an_import_refuses_long_values_and_foreign_digits(api):
    rows = [GOOD[0], dict(GOOD[1], seq="\u0662"), dict(GOOD[2], to="c" * 100_000)]
    body = assert_error(api.post("/imports", "integration", content=as_csv(rows),
                                 headers={"Content-Type": "text/csv"}), 422, "validation_error")
    reasons = {e["line"]: e["reason"] for e in body["errors"]}
    assert "seq" in reasons[3] and "to is longer than 2 characters" in reasons[4]
    assert count(api.engine, "event") == 0


def test_csv_the_engine_writes_runs_no_formula(api, db_url, monkeypatch):
    from typer.testing import CliRunner

    from pathway.cli import app
    from pathway.services import csv_safe

    evil = "=cmd|' /C calc'!A0"
    api.post("/tokens", "admin", json={"role": "integration", "name": evil})
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    out = CliRunner().invoke(app, ["token", "list", "--format", "csv"]).output
    assert f"'{evil}" in out and f",{evil}" not in out
    assert csv_safe.write([{"a": "+1", "b": "@x", "c": "-2", "d": 3, "e": "ok"}], "abcde").splitlines()[1] == \
        "'+1,'@x,'-2,3,ok"


# 9. Tokens expire; refused sign-ins are limited per address; https is believed from a trusted proxy.

def test_tokens_expire_by_role_or_as_asked(api, clock, db_url, monkeypatch):
    from typer.testing import CliRunner

    from pathway.cli import app
    from pathway.services.auth import token_active

    made = api.post("/tokens", "admin", json={"role": "integration", "name": "short", "expires": "2h"}).json()
    assert made["expires_at"] == "2026-06-01T11:00:00Z"
    role_default = api.post("/tokens", "admin", json={"role": "duty", "worker": "ben"}).json()
    assert role_default["expires_at"] == "2026-08-30T09:00:00Z"  # duty: 90 days
    for bad in ("0d", "-1d", "2020-01-01", "soon", "99999d"):
        assert_error(api.post("/tokens", "admin", json={"role": "integration", "expires": bad}), 422,
                     "validation_error", "expires")
    use = {"Authorization": f"Bearer {made['token']}"}
    assert api.get("/reports/waits", headers=use).status_code == 200 and token_active(api.engine, made["id"])
    clock.advance(hours=2)
    assert_error(api.get("/reports/waits", headers=use), 401, "unauthorized", "expired")
    assert not token_active(api.engine, made["id"]) and token_active(api.engine, role_default["id"])
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    out = CliRunner().invoke(app, ["token", "create", "--role", "admin", "--expires", "2099-01-01"])
    assert out.exit_code == 1 and "expires" in out.output
    out = CliRunner().invoke(app, ["token", "create", "--role", "admin", "--expires", "7d", "--format", "json"])
    assert out.exit_code == 0, out.output


def test_refused_sign_ins_are_limited_per_address(council):
    council.settings = council.settings.model_copy(update={"security": council.settings.security.model_copy(
        update={"auth_failures": 3})})
    api = make_api(council)
    for _ in range(3):
        assert_error(api.get("/reports/waits", headers={"Authorization": "Bearer pw_wrong"}), 401, "unauthorized")
    blocked = api.get("/reports/waits", "integration")
    assert_error(blocked, 429, "too_many_requests", "seconds")
    assert int(blocked.headers["Retry-After"]) > 0
    assert api.get("/health").status_code == 200


def test_the_client_address_and_https_come_from_trusted_proxies_only():
    from pathway.api.guard import came_over_https, client_address
    from pathway.settings import Security

    behind = Security(trusted_proxies="10.0.0.0/8, 192.168.1.5")
    scope = {"client": ("10.1.2.3", 5000), "scheme": "http",
             "headers": [(b"x-forwarded-for", b"203.0.113.9, 10.9.9.9"), (b"x-forwarded-proto", b"https")]}
    assert (client_address(scope, behind), came_over_https(scope, behind)) == ("203.0.113.9", True)
    assert (client_address(scope, Security()), came_over_https(scope, Security())) == ("10.1.2.3", False)
    direct = {**scope, "client": ("198.51.100.7", 5000)}
    assert (client_address(direct, behind), came_over_https(direct, behind)) == ("198.51.100.7", False)


# 11. An upload left by a killed import is removed when the API starts.

def test_uploads_left_behind_are_removed_at_start(council, tmp_path):
    import subprocess

    from pathway.api import create_app

    uploads = tmp_path / "uploads"
    council.settings = council.settings.model_copy(update={"security": council.settings.security.model_copy(
        update={"upload_dir": str(uploads)})})
    dead = subprocess.Popen(["true"])  # a process that has ended: its upload is nobody's
    dead.wait()
    uploads.mkdir(mode=0o700)
    left = uploads / f"pathway-import-{dead.pid}-x1.csv"
    left.write_text("episode_ref,person_ref\nE1,P-1\n")
    create_app(council)
    assert not left.exists() and oct(uploads.stat().st_mode & 0o777) == "0o700"


# The access log: who read whose record.

def test_reads_of_a_record_are_in_the_access_log(api):
    ep = api.contact()
    api.get(f"/episodes/{ep['id']}", "manager")
    api.get(f"/episodes/{ep['id']}/events", "amira")
    api.get(f"/episodes/{ep['id']}", "cara")  # not theirs: 404, nothing read
    assert_error(api.get("/audit/access", "manager", params={"episode": ep["id"]}), 403, "forbidden")
    log = api.get("/audit/access", "admin", params={"episode": ep["id"]}).json()
    assert [(r["actor"], r["route"]) for r in log["items"]] == [
        (api.actors["manager"], f"GET /episodes/{ep['id']}"), (api.actors["amira"], f"GET /episodes/{ep['id']}/events")]
    assert set(log["items"][0]) == {"id", "at", "actor", "episode_id", "route"}
    assert api.get("/audit/access", "admin", params={"episode": "1.0"}).status_code == 422


def test_tracking_and_returns_refuse_dates_outside_the_horizon(council):
    from pathway.errors import ValidationError

    for call in (lambda: council.track_waits("0001-01-01"), lambda: council.export_cld("0001-01-01", "2026-01-31"),
                 lambda: council.export_cld("2026-01-01", "9999-12-31")):
        with pytest.raises(ValidationError, match="outside"):
            call()


def test_the_security_settings_come_from_the_file_and_the_environment(tmp_path, monkeypatch):
    import datetime as dt

    from pathway.settings import DEFAULT_TOKEN_DAYS, load_settings

    toml = tmp_path / "pathway.toml"
    toml.write_text('[security]\nearliest_date = 2000-01-01\ntoken_days = {admin = 7}\n')
    monkeypatch.setenv("PATHWAY_TRUSTED_PROXIES", "10.0.0.1, 10.0.1.0/24")
    monkeypatch.setenv("PATHWAY_NHS_NUMBERS", "true")
    security = load_settings(toml).security
    assert security.earliest_date == dt.date(2000, 1, 1) and security.nhs_numbers
    assert security.trusted_proxies == ["10.0.0.1", "10.0.1.0/24"]
    assert security.token_days == {**DEFAULT_TOKEN_DAYS, "admin": 7}
    toml.write_text('[security]\nperson_ref_pattern = "(["\n')
    with pytest.raises(ValueError, match="person_ref_pattern"):
        load_settings(toml)
