"""The guard on every request the portal makes on behalf of catalog content (probes, try-it).

Catalog content names the URLs, and anyone who can register a descriptor writes
catalog content, so a probe is a server-side request forgery waiting to happen.
The guard allows a URL only when:

- its scheme is http or https and it carries no credentials;
- its host (and port, when the entry names one) matches an entry of the allow-list;
- every address the host resolves to is public, or lies in an address or network
  the allow-list names explicitly (loopback, private and link-local addresses are
  refused otherwise: a wildcard such as ``*.example.com`` never lets a name that
  resolves to 10.0.0.5 or 169.254.169.254 through).

The caller then connects to the address checked here, never resolving the name
again, so a DNS answer that changes between the check and the connection (DNS
rebinding) cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "DEVELOPMENT_HOSTS",
    "AllowList",
    "Entry",
    "Guard",
    "Refused",
    "Target",
    "Unreachable",
    "parse_entry",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

SETTING = "PORTAL_LIVE_ALLOWED_HOSTS"
# Allowed while the portal runs with its development identity (no single sign-on, so
# it only answers on loopback): the address `portal serve` listens on by default,
# which the example catalog's developer-portal Component declares.
DEVELOPMENT_HOSTS = ("127.0.0.1:8000",)


class Refused(Exception):
    """The portal will not make this request; the message says why and what would allow it."""


class Unreachable(Exception):
    """The request was allowed but got no usable answer (name unknown, no connection, timeout)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One allow-list entry: a host name (``*.`` for any sub-domain) or an address/network,
    with an optional port."""

    text: str
    name: str | None = None
    wildcard: bool = False
    network: IPNetwork | None = None
    port: int | None = None

    def matches_host(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            address = _address(host)
            return address is not None and address in self.network
        if self.wildcard:
            return host.endswith(f".{self.name}")
        return host == self.name

    def allows_address(self, address: IPAddress, port: int) -> bool:
        """Whether this entry names ``address`` explicitly (only address entries do)."""
        if self.network is None or (self.port is not None and self.port != port):
            return False
        return address.version == self.network.version and address in self.network


def parse_entry(text: str) -> Entry:
    """``host``, ``*.domain``, ``host:port``, ``10.0.0.5``, ``[::1]:8080`` or ``10.0.0.0/8``.

    Raises ValueError with what was wrong and what is accepted.
    """
    raw = text.strip()
    expected = (
        "expected a host (api.example.com), *.example.com, an address (10.0.0.5, [::1]) "
        "or a network (10.0.0.0/8), each optionally with :port"
    )
    if not raw or "://" in raw:
        raise ValueError(f"{text!r}: {expected}")
    network = _cidr(raw)
    if network is not None:
        return Entry(text, network=network)
    if "/" in raw:
        raise ValueError(f"{text!r}: {expected}")
    host, port = _split_port(raw, text, expected)
    address = _address(host)
    if address is not None:
        return Entry(text, network=ipaddress.ip_network(address), port=port)
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    labels = name.split(".")
    if (
        not name
        or "*" in name
        or not all(
            label and len(label) <= 63 and all(c.isalnum() or c == "-" for c in label)
            for label in labels
        )
    ):
        raise ValueError(f"{text!r}: {expected}")
    return Entry(text, name=name.lower(), wildcard=wildcard, port=port)


def _split_port(raw: str, text: str, expected: str) -> tuple[str, int | None]:
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r}: {expected}")
        port_text = rest[1:] if rest else ""
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
    else:
        host, port_text = raw, ""  # a bare IPv6 address, or a name
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r}: {port_text!r} is not a port (1-65535)")
    return host, int(port_text)


def _cidr(raw: str) -> IPNetwork | None:
    if "/" not in raw:
        return None
    try:
        return ipaddress.ip_network(raw, strict=False)
    except ValueError:
        return None


def _address(host: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address


@dataclass(frozen=True, slots=True)
class AllowList:
    entries: tuple[Entry, ...]

    @classmethod
    def parse(cls, texts: Sequence[str]) -> AllowList:
        return cls(tuple(parse_entry(t) for t in texts))

    @classmethod
    def effective(cls, allowed: Sequence[str] | None, *, sso: bool) -> AllowList:
        """The allow-list in force: the setting's, or by default the development one
        (only while no single sign-on is configured, i.e. on a developer's laptop)."""
        if allowed is not None:
            return cls.parse(allowed)
        return cls.parse(() if sso else DEVELOPMENT_HOSTS)

    def allows_host(self, host: str, port: int) -> bool:
        return any(e.matches_host(host, port) for e in self.entries)

    def allows_address(self, address: IPAddress, port: int) -> bool:
        return any(e.allows_address(address, port) for e in self.entries)

    def describe(self) -> str:
        return ", ".join(e.text for e in self.entries) or "empty"


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: where to connect (``addresses``, in order) and what to call it."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Guard:
    """Checks URLs against an allow-list; ``resolve`` looks names up (the system's by default)."""

    def __init__(self, allow: AllowList, resolve: Resolver = system_resolver) -> None:
        self.allow = allow
        self._resolve = resolve

    def allows_host_of(self, url: str) -> bool:
        """Whether the URL's host is on the allow-list (no lookup: for choosing what to offer)."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        host = (parts.hostname or "").lower()
        return parts.scheme in ("http", "https") and self.allow.allows_host(host, port)

    def check(self, url: str) -> Target:
        """The target of ``url``, or Refused (not allowed) / Unreachable (name unknown)."""
        try:
            parts = urlsplit(url)
            explicit_port = parts.port
        except ValueError as exc:
            raise Refused(f"{url!r} is not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https"):
            raise Refused(f"only http and https URLs are called, not {parts.scheme or 'this'!r}")
        if parts.username is not None or parts.password is not None:
            raise Refused("a URL with credentials in it is never called")
        host = (parts.hostname or "").lower()
        if not host:
            raise Refused(f"{url!r} has no host")
        port = explicit_port or (443 if parts.scheme == "https" else 80)
        if not self.allow.allows_host(host, port):
            raise Refused(
                f"{host}:{port} is not on the allow-list ({self.allow.describe()}); "
                f"an administrator can add it to {SETTING}"
            )
        literal = _address(host)
        if literal is not None:
            addresses: Sequence[str] = [str(literal)]
        else:
            try:
                addresses = self._resolve(host, port)
            except (OSError, UnicodeError) as exc:
                raise Unreachable(f"{host} could not be resolved ({exc})") from None
            if not addresses:
                raise Unreachable(f"{host} resolves to no address")
        checked = []
        for text in addresses:
            address = _address(text)
            if address is None:
                raise Refused(f"{host} resolves to {text!r}, which is not an IP address")
            kind = _restricted(address)
            if kind is not None and not self.allow.allows_address(address, port):
                raise Refused(
                    f"{host} resolves to {address}, a {kind} address, which is refused "
                    f"unless the allow-list names it explicitly (add {address}"
                    f"{'' if port in (80, 443) else f':{port}'} or its network to {SETTING})"
                )
            checked.append(str(address))
        return Target(url, parts.scheme, host, port, tuple(checked))


def _restricted(address: IPAddress) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"
    return None
