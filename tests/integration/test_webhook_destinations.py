"""Where deliveries may go, at registration and at delivery, against real receivers on 127.0.0.1.

Each refusal below was once accepted: internal and metadata addresses in every spelling were
registered, deliveries to 127.0.0.1 arrived, a 302 was followed carrying the signature, and URLs
with credentials or query strings were written into logs and listings.
"""

import logging
import socket

import pytest
import sqlalchemy as sa
from webhook_receiver import LOCAL, Receiver

from pathway import ValidationError
from pathway.services.webhooks import new_secret
from pathway.settings import WebhookPolicy
from pathway.store.tables import WEBHOOK

SECRET = new_secret()
STRICT = WebhookPolicy(timeout=2, backoff=60)  # the default rules
ALLOWED = WebhookPolicy(**LOCAL, timeout=2, backoff=60)


def hooks(engine) -> int:
    with engine.db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(WEBHOOK)).scalar_one()


def with_policy(engine, policy):
    engine.settings = engine.settings.model_copy(update={"webhooks": policy})
    return engine


def local_name() -> str:
    """A host name of this machine that resolves (through the system resolver) to a non-public address."""
    name = socket.gethostname()
    try:
        address = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror:
        pytest.skip(f"this machine's name {name!r} does not resolve")
    if not (address.startswith(("127.", "10.", "192.168.", "172.")) or address == "::1"):
        pytest.skip(f"this machine's name {name!r} resolves to a public address {address}")
    return name


@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data/", "https://10.0.0.5/hook", "https://localhost/hook",
    "https://0.0.0.0/hook", "https://2130706433/hook", "https://0x7f.1/hook",
    "https://metadata.google.internal/computeMetadata/v1/", "https://[::1]/hook", "https://0177.0.0.1/hook",
    "https://[::ffff:127.0.0.1]/hook", "http://backend.example/hook", "https://user:hunter2@backend.example/hook",
])
def test_internal_metadata_plain_http_and_credentialed_urls_are_refused_and_nothing_written(council, url):
    with pytest.raises(ValidationError, match="refused|https://") as err:
        council.add_webhook(url, ["episode.refer"], SECRET)
    assert err.value.extra["field"] == "url" and "hunter2" not in err.value.detail
    assert hooks(council) == 0


def test_a_name_that_resolves_to_this_machine_is_refused_at_registration(council):
    name = local_name()
    with pytest.raises(ValidationError, match=f"{name} resolves to .*(loopback|private)"):
        council.add_webhook(f"https://{name}/hook", ["episode.refer"], SECRET)
    assert hooks(council) == 0
    # A council's own host, named in the setting, is allowed.
    with_policy(council, WebhookPolicy(allow_hosts=(name,)))
    assert council.add_webhook(f"https://{name}/hook", ["episode.refer"], SECRET)["id"]


def test_deliveries_to_loopback_do_not_arrive_unless_the_setting_allows_it(council):
    with Receiver() as rx:
        with_policy(council, ALLOWED).add_webhook(rx.url, ["episode.record_contact"], SECRET)
        council.record_contact("P-1", "unknown", "north")
        # The allowance is withdrawn: the next attempt is refused before anything is sent.
        assert council.dispatch_outbox(policy=STRICT)["retry"] == 1
        assert rx.requests == []
        (d,) = council.deliveries()
        assert "refused" in d["last_error"] and "plain http://" in d["last_error"]
        assert council.dispatch_outbox(policy=ALLOWED)["retry"] == 0  # not due yet: backoff
        council.redeliver(d["webhook_id"], d["id"])
        assert council.dispatch_outbox(policy=ALLOWED)["delivered"] == 1 and len(rx.requests) == 1


def test_a_name_re_pointed_at_an_internal_address_is_refused_at_delivery_after_resolving_it(council):
    name = local_name()
    with Receiver() as rx:
        port = rx.server.server_port
        registered = WebhookPolicy(allow_hosts=(name,), allow_http_hosts=(name,), timeout=2)
        with_policy(council, registered).add_webhook(f"http://{name}:{port}/hook", ["episode.record_contact"], SECRET)
        council.record_contact("P-1", "unknown", "north")
        # Plain http to the name is still allowed; being on an internal address no longer is.
        later = WebhookPolicy(allow_http_hosts=(name,), timeout=2, backoff=60)
        assert council.dispatch_outbox(policy=later)["retry"] == 1
        assert rx.requests == []
        (d,) = council.deliveries()
        assert f"refused: {name} resolves to" in d["last_error"]
        assert "loopback" in d["last_error"] or "private" in d["last_error"]


def test_a_redirect_is_a_failed_attempt_and_is_never_followed(council):
    with Receiver() as elsewhere, Receiver(status=302, headers={"Location": elsewhere.url}) as rx:
        with_policy(council, ALLOWED).add_webhook(rx.url, ["episode.record_contact"], SECRET)
        council.record_contact("P-1", "unknown", "north")
        assert council.dispatch_outbox()["retry"] == 1
        assert len(rx.requests) == 1 and elsewhere.requests == []
        (d,) = council.deliveries()
        assert (d["status"], d["last_status"]) == ("pending", 302)
        assert "redirects are not followed" in d["last_error"]


def test_query_strings_and_credentials_never_reach_logs_or_listings(council, caplog):
    caplog.set_level(logging.INFO, logger="pathway.webhooks")
    with Receiver(status=500) as rx:
        with_policy(council, ALLOWED).add_webhook(rx.url + "?token=s3cr3t-query", ["episode.record_contact"], SECRET)
        # A subscription written before the rules (credentials in its URL) is refused at delivery.
        with council.db.begin() as conn:
            conn.execute(WEBHOOK.insert().values(
                url=rx.url.replace("http://", "http://admin:pa55word@"), events=["episode.record_contact"],
                secret=SECRET, active=True, consecutive_failures=0, created_at=council.now(), created_by="old"))
        council.record_contact("P-1", "unknown", "north")
        assert council.dispatch_outbox()["retry"] == 2
        assert len(rx.requests) == 1  # only the first: the credentialed URL was never posted to
    shown = caplog.text + repr(council.webhooks()) + repr(council.deliveries())
    assert "webhook" in caplog.text and "failed" in caplog.text
    for secret in ("s3cr3t-query", "pa55word", "admin:"):
        assert secret not in shown
    assert "user name or password" in council.deliveries()[1]["last_error"]
