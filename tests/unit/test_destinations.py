"""Where webhooks may go: every numeric spelling of an internal address is seen through (no I/O)."""

import ipaddress

import pytest

from pathway.domain.destinations import check_destination, mask, parse_ipv4_any, refused_address
from pathway.errors import ValidationError


@pytest.mark.parametrize("spelling", ["127.0.0.1", "2130706433", "0x7f.1", "0x7f000001", "0177.0.0.1", "127.1",
                                      "127.0.1", "0x7F.0.0.1", "017700000001", "127.0.0.1."])
def test_every_spelling_of_loopback_is_read_as_loopback(spelling):
    assert parse_ipv4_any(spelling) == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize("text", ["example.org", "1.2.3.4.5", "256.1.1.1", "08.1.1.1", "1..1", "", "4294967296"])
def test_names_and_impossible_numbers_are_not_addresses(text):
    assert parse_ipv4_any(text) is None


@pytest.mark.parametrize("address, why", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.0.0.5", "private"), ("172.16.3.4", "private"),
    ("192.168.1.1", "private"), ("fd12::1", "private"), ("100.64.0.1", "private"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"), ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "metadata"), ("2002:7f00:1::", "loopback"), ("240.0.0.1", "reserved"),
])
def test_internal_addresses_are_refused_with_the_reason(address, why):
    assert why in refused_address(ipaddress.ip_address(address))


def test_public_addresses_are_allowed_and_an_allowed_host_may_be_internal_but_never_metadata():
    assert refused_address(ipaddress.ip_address("93.184.216.34")) is None
    assert refused_address(ipaddress.ip_address("2606:4700::1111")) is None
    assert refused_address(ipaddress.ip_address("10.0.0.5"), allowed_host=True) is None
    assert "metadata" in refused_address(ipaddress.ip_address("169.254.169.254"), allowed_host=True)
    assert "unspecified" in refused_address(ipaddress.ip_address("0.0.0.0"), allowed_host=True)


@pytest.mark.parametrize("url, reason", [
    ("https://169.254.169.254/latest/meta-data", "metadata"), ("https://10.0.0.5/hook", "private"),
    ("https://localhost/hook", "this machine"), ("https://0.0.0.0/hook", "unspecified"),
    ("https://2130706433/hook", "loopback"), ("https://0x7f.1/hook", "loopback"),
    ("https://metadata.google.internal/computeMetadata/v1/", "metadata host"), ("https://[::1]/hook", "loopback"),
    ("https://[::ffff:7f00:1]/hook", "loopback"), ("https://api.localhost/hook", "this machine"),
    ("http://backend.example/hook", "plain http://"),
    ("https://user:pass@backend.example/hook", "user name or password"),
    ("https://token@backend.example/hook", "user name or password"), ("ftp://backend.example/x", "https://"),
    ("javascript:alert(1)", "https://"), ("https://", "https://"), ("backend.example/hook", "https://"),
    ("https://backend.example:99999/", "not a valid URL"),
])
def test_a_url_to_an_internal_or_unsafe_destination_is_refused_saying_why(url, reason):
    with pytest.raises(ValidationError, match=reason) as err:
        check_destination(url)
    assert err.value.extra["field"] == "url"
    assert "pass@" not in err.value.detail


def test_the_allow_settings_open_named_hosts_only():
    assert check_destination("https://backend.example/hook").host == "backend.example"
    assert check_destination("http://127.0.0.1:8080/x", ["127.0.0.1"], ["127.0.0.1"]).port == 8080
    assert check_destination("https://case.council.internal/x", ["case.council.internal"]).allowed_host
    with pytest.raises(ValidationError, match="plain http://"):
        check_destination("http://127.0.0.1:8080/x", ["127.0.0.1"])
    with pytest.raises(ValidationError, match="loopback"):  # another spelling is not the allowed host
        check_destination("https://2130706433/x", ["127.0.0.1"])
    with pytest.raises(ValidationError, match="metadata"):
        check_destination("https://metadata.google.internal/x", ["metadata.google.internal"])


def test_masking_hides_paths_queries_and_credentials():
    assert mask("https://backend.example/hooks/T0K3N?sig=abc") == "https://backend.example/…"
    assert mask("https://backend.example") == "https://backend.example/"
    assert mask("https://user:secret@backend.example:8443/x") == "https://…@backend.example:8443/…"
    assert mask("https://[::1]:99/x") == "https://[::1]:99/…"
