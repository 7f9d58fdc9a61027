"""Where a webhook may be delivered: https to a public address, never to the engine's own network.

The rules are stated once here and applied twice: when a subscription is registered (its URL), and
at every delivery to each address its host name resolves to (so a name cannot be re-pointed at an
internal address after it was accepted). A council may allow named hosts on its own network
(``allow_hosts``) and plain http to named hosts (``allow_http_hosts``); cloud metadata endpoints,
unspecified and multicast addresses are refused even then.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import urllib.parse

from pathway.errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata: a request there can hand out the machine's own credentials.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, Azure, GCP, OpenStack
    "169.254.170.2",  # AWS ECS task metadata
    "100.100.100.200",  # Alibaba Cloud
    "fd00:ec2::254",  # AWS over IPv6
))
METADATA_NAMES = frozenset(("metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                            "instance-data.ec2.internal"))
LOCAL_NAMES = frozenset(("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"))
# Shared address space of carrier-grade NAT (RFC 6598): not public, though not "private" to ipaddress.
SHARED = ipaddress.ip_network("100.64.0.0/10")
MAX_URL = 2000
_NUMBER = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def parse_ipv4_any(host: str) -> ipaddress.IPv4Address | None:
    """``host`` read as an IPv4 address in any spelling a C resolver accepts (inet_aton): one to four
    parts, each decimal, octal (leading 0) or hex (0x), the last filling the remaining bytes, so
    ``2130706433``, ``0x7f.1``, ``0177.0.0.1`` and ``127.1`` are all 127.0.0.1. None if it is not one."""
    parts = host.lower().split(".")
    if host.endswith("."):
        parts = parts[:-1]
    if not 1 <= len(parts) <= 4 or not all(_NUMBER.match(p) for p in parts):
        return None
    values = []
    for p in parts:
        if p.startswith("0x"):
            values.append(int(p[2:] or "0", 16))
        elif len(p) > 1 and p.startswith("0"):
            if not set(p) <= set("01234567"):
                return None
            values.append(int(p, 8))
        else:
            values.append(int(p))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    return ipaddress.IPv4Address(number * 256 ** (4 - len(head)) + last)


def parse_ip(host: str) -> IPAddress | None:
    """``host`` (as a URL's hostname: IPv6 without brackets) read as an IP address, or None if it is a name."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    return parse_ipv4_any(host)


def refused_address(ip: IPAddress, allowed_host: bool = False) -> str | None:
    """Why a delivery may not go to ``ip`` (None if it may). An allowed host may be on a private,
    loopback or link-local address; metadata, unspecified and multicast addresses never."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in ipaddress.ip_network("::/96") and int(ip) > 1:
            embedded = ipaddress.IPv4Address(int(ip))  # IPv4-compatible (deprecated, still routed by some stacks)
        if embedded is not None:
            return refused_address(embedded, allowed_host)
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if allowed_host:
        return None
    for test, what in ((ip.is_loopback, "a loopback address"), (ip.is_link_local, "a link-local address"),
                       (ip.is_reserved, "a reserved address"), (ip.is_private or ip in SHARED, "a private address"),
                       (not ip.is_global, "not a public address")):
        if test:
            return what
    return None


@dataclasses.dataclass(frozen=True)
class Destination:
    """A checked webhook URL: its scheme, host (lower case), port and, if the host is an address, the address."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress | None
    allowed_host: bool


def _refuse(url: str, why: str) -> ValidationError:
    return ValidationError(f"webhook url {mask(url)!r} is refused: {why}", field="url")


def check_destination(url: str, allow_hosts=(), allow_http_hosts=()) -> Destination:
    """The URL as a Destination, or ValidationError saying what is wrong and what is allowed: https (http
    only to a host in ``allow_http_hosts``), no user name or password, and not an internal host or address
    (loopback, private, link-local, multicast, unspecified, cloud metadata) unless in ``allow_hosts``."""
    if not isinstance(url, str) or not url:
        raise ValidationError("a webhook url is an https:// URL with a host", field="url")
    if len(url) > MAX_URL:
        raise ValidationError(f"webhook url is longer than {MAX_URL} characters", field="url")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refuse(url, f"it is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"webhook url {mask(url)!r} must be an https:// URL with a host "
                              "(http:// only to hosts the webhooks.allow_http_hosts setting names)", field="url")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _refuse(url, "it carries a user name or password; put credentials in the signing secret, not the URL")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise _refuse(url, "it contains white space or control characters")
    host = parts.hostname.lower().rstrip(".")
    allowed = host in {h.lower().rstrip(".") for h in allow_hosts}
    if parts.scheme == "http" and host not in {h.lower().rstrip(".") for h in allow_http_hosts}:
        raise _refuse(url, "plain http:// would carry people's references unencrypted; use https:// "
                           "(http:// is allowed only to hosts the webhooks.allow_http_hosts setting names)")
    if host in METADATA_NAMES:
        raise _refuse(url, f"{host} is a cloud metadata host")
    address = parse_ip(host)
    if address is None and not allowed and (host in LOCAL_NAMES or host.endswith(".localhost")):
        raise _refuse(url, f"{host} is this machine (allow it with the webhooks.allow_hosts setting)")
    if address is not None:
        why = refused_address(address, allowed)
        if why:
            raise _refuse(url, f"{host} is {why} (allowed: public addresses, and hosts the webhooks.allow_hosts "
                               "setting names)")
    return Destination(url=url, scheme=parts.scheme, host=host, port=port or (443 if parts.scheme == "https" else 80),
                       address=address, allowed_host=allowed)


def mask(url: str) -> str:
    """The URL as logs and listings show it: scheme, host and port; the path and query (which may carry
    a token) and any credentials hidden."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except (ValueError, TypeError, AttributeError):
        return "(unreadable url)"
    if ":" in host:
        host = f"[{host}]"
    hidden = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else "/"
    return f"{parts.scheme}://{'…@' if '@' in parts.netloc else ''}{host}{port}{hidden}"
