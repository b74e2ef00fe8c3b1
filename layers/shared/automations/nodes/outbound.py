"""Outbound HTTP calls that cannot be turned inward: every call a node makes goes through ``fetch``.

1. **Resolve once.** The host is resolved once with ``socket.getaddrinfo``; numeric spellings
   (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``) are decided by the resolver's own
   parsing, the same one a connection would use.
2. **Check every address** (``refusal``): loopback, private (RFC 1918, CGNAT), link-local,
   cloud metadata, multicast, reserved, unspecified, broadcast, unique-local, benchmarking and
   documentation ranges are refused; IPv6 forms that carry an IPv4 address (IPv4-mapped,
   IPv4-compatible, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by that address;
   local-use NAT64 and Teredo are refused. One refused address refuses the call with a
   permanent ``ConfigurationError`` (one attempt, no retry).
3. **Connect to the checked addresses only.** The connection class connects to the pinned
   addresses instead of resolving the host again, so a name that answers a public address
   first and a private one second never reaches the private one; the Host header, TLS SNI and
   certificate verification keep the host name. Proxies from the environment are ignored.
4. **Redirects are not followed**: a 3xx is the answer (a redirect could lead anywhere).
5. **A total deadline** covers connecting, TLS, sending, the headers and the body: a watchdog
   shuts the socket down when it passes. **Reads stop** past ``max_bytes`` (the body is then
   marked truncated).

Modes: ``strict`` (deployed) applies every rule; ``loopback`` (the local stack) also allows
127.0.0.0/8 and ::1, as spelled; ``offline`` allows loopback addresses only and looks no name up
(``localhost`` and ``*.localhost`` are 127.0.0.1, RFC 6761; any other name is refused), so
nothing leaves the machine, not even a DNS query: the test suite's local stacks run so. An
allowlist of networks and host names lets a deployment reach private targets it names; metadata
addresses are refused whatever the allowlist says.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from automations.domain.node_settings import GUARD_MODES, GuardMode, NodeSettings, allowlist_entry
from automations.domain.redaction import redact_url
from automations.errors import ConfigurationError, TransientError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_net = ipaddress.ip_network

# Never reachable, whatever the mode or allowlist: instance credentials live there.
METADATA = (
    _net("169.254.169.254/32"),  # EC2 / Lambda instance metadata
    _net("169.254.170.2/32"),  # ECS task metadata and credentials
    _net("fd00:ec2::254/128"),  # EC2 instance metadata over IPv6
)
LOOPBACK = (_net("127.0.0.0/8"), _net("::1/128"))

# The first match names the reason; order matters where ranges nest.
_REFUSED_V4: tuple[tuple[IPNetwork, str], ...] = (
    (_net("0.0.0.0/8"), "unspecified ('this network')"),
    (_net("10.0.0.0/8"), "private (RFC 1918)"),
    (_net("100.64.0.0/10"), "shared address space (CGNAT)"),
    (_net("127.0.0.0/8"), "loopback"),
    (_net("169.254.0.0/16"), "link-local"),
    (_net("172.16.0.0/12"), "private (RFC 1918)"),
    (_net("192.0.0.0/24"), "IETF protocol assignments"),
    (_net("192.0.2.0/24"), "documentation"),
    (_net("192.88.99.0/24"), "6to4 relay anycast"),
    (_net("192.168.0.0/16"), "private (RFC 1918)"),
    (_net("198.18.0.0/15"), "benchmarking"),
    (_net("198.51.100.0/24"), "documentation"),
    (_net("203.0.113.0/24"), "documentation"),
    (_net("224.0.0.0/4"), "multicast"),
    (_net("255.255.255.255/32"), "broadcast"),
    (_net("240.0.0.0/4"), "reserved"),
)
_REFUSED_V6: tuple[tuple[IPNetwork, str], ...] = (
    (_net("::/128"), "unspecified"),
    (_net("::1/128"), "loopback"),
    (_net("64:ff9b:1::/48"), "local-use NAT64"),
    (_net("100::/64"), "discard-only"),
    (_net("2001::/32"), "Teredo"),
    (_net("2001:2::/48"), "benchmarking"),
    (_net("2001:db8::/32"), "documentation"),
    (_net("2001::/23"), "IETF protocol assignments"),
    (_net("3fff::/20"), "documentation"),
    (_net("fc00::/7"), "unique-local"),
    (_net("fe80::/10"), "link-local"),
    (_net("fec0::/10"), "site-local"),
    (_net("ff00::/8"), "multicast"),
)
# IPv6 forms that carry an IPv4 address: judged by the address they carry.
_MAPPED = _net("::ffff:0:0/96")
_COMPATIBLE = _net("::/96")
_NAT64 = _net("64:ff9b::/96")
_SIXTOFOUR = _net("2002::/16")

CHUNK_BYTES = 16 * 1024


@dataclass(frozen=True)
class Allowlist:
    networks: tuple[IPNetwork, ...] = ()
    hosts: tuple[str, ...] = ()  # exact names, or "*.example.internal" for every name under it

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host.endswith(entry[1:]) if entry.startswith("*.") else host == entry for entry in self.hosts)

    def allows_address(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


def parse_allowlist(entries: Iterable[str]) -> Allowlist:
    """``10.1.0.0/16``, ``192.168.4.7``, ``fd12::/64``, ``api.internal``, ``*.corp.example``."""
    networks: list[IPNetwork] = []
    hosts: list[str] = []
    for raw in entries:
        if not raw.strip():
            continue
        entry = allowlist_entry(raw)
        if isinstance(entry, str):
            hosts.append(entry)
        else:
            networks.append(entry)
    return Allowlist(tuple(networks), tuple(hosts))


@dataclass(frozen=True)
class OutboundPolicy:
    mode: GuardMode = "strict"
    allowlist: Allowlist = field(default_factory=Allowlist)

    @classmethod
    def of(cls, mode: str, allowlist: Iterable[str] = ()) -> OutboundPolicy:
        if mode not in GUARD_MODES:
            raise ValueError(f"outbound guard mode must be one of {', '.join(GUARD_MODES)}, got '{mode}'")
        return cls(mode=mode, allowlist=parse_allowlist(allowlist))  # type: ignore[arg-type]


def policy_of(settings: NodeSettings) -> OutboundPolicy:
    """The outbound guard a deployment's settings describe."""
    return OutboundPolicy.of(settings.outbound_guard, settings.outbound_allowlist)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    if ip in _MAPPED:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-mapped"
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip in _SIXTOFOUR:
        return ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF), "6to4"
    if ip in _COMPATIBLE and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-compatible"
    return None


def refusal(ip: IPAddress, policy: OutboundPolicy, *, host_allowed: bool = False) -> str | None:
    """Why a call to ``ip`` is refused under ``policy``; None when it may go ahead."""
    if any(ip.version == net.version and ip in net for net in METADATA):
        return "a cloud metadata address"
    if host_allowed or policy.allowlist.allows_address(ip):
        return None
    loopback = any(ip.version == net.version and ip in net for net in LOOPBACK)
    if policy.mode == "offline":
        return None if loopback else "not a loopback address (the outbound guard is offline)"
    if policy.mode == "loopback" and loopback:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner, form = embedded
            # the mode's loopback allowance is for 127.0.0.0/8 and ::1 as spelled, not carried inside IPv6
            reason = refusal(inner, OutboundPolicy("strict", policy.allowlist))
            return f"{form}, carrying {inner}: {reason}" if reason else None
        table = _REFUSED_V6
    else:
        table = _REFUSED_V4
    for network, reason in table:
        if ip in network:
            return reason
    if not ip.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class Target:
    """A URL's host, resolved once and checked: the only addresses a connection may use."""

    scheme: str
    host: str
    port: int
    addresses: tuple[tuple[int, tuple[Any, ...]], ...]  # (family, sockaddr), in the resolver's order


def _literal(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])


def _resolve(host: str, port: int, policy: OutboundPolicy) -> list[tuple[Any, ...]]:
    if policy.mode != "offline":
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        host = "127.0.0.1"
    try:  # numeric spellings only: no lookup leaves the machine
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        raise ConfigurationError(
            f"host '{host}' is not looked up: the outbound guard is offline (loopback addresses and localhost only)"
        ) from None


def check_url(url: str, policy: OutboundPolicy) -> Target:
    """Resolve the URL's host once and check every address; raise ``ConfigurationError`` if refused."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise ConfigurationError(f"url is not valid: {error}") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"url must be an absolute http(s) URL, got '{redact_url(url)}'")
    host = parts.hostname
    try:
        infos = _resolve(host, port, policy)
    except UnicodeError as error:
        raise ConfigurationError(f"host '{host}' is not a valid name: {error}") from error
    except socket.gaierror as error:
        raise TransientError(f"cannot resolve host '{host}': {error}") from error
    host_allowed = policy.allowlist.allows_host(host)
    addresses: list[tuple[int, tuple[Any, ...]]] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = _literal(str(sockaddr[0]))
        reason = refusal(ip, policy, host_allowed=host_allowed)
        if reason:
            shown = f"'{host}'" if str(ip) == host else f"'{host}' (resolves to {ip})"
            raise ConfigurationError(f"target {shown} is refused: {reason}")
        if (family, sockaddr) not in addresses:
            addresses.append((family, tuple(sockaddr)))
    if not addresses:
        raise TransientError(f"cannot resolve host '{host}': no IPv4 or IPv6 address")
    return Target(parts.scheme, host, port, tuple(addresses))


# --- the pinned transport ----------------------------------------------------------------------


class _Call:
    """One call's pinned addresses, deadline and open connections (read by the watchdog)."""

    def __init__(self, target: Target, deadline: float) -> None:
        self.target = target
        self.deadline = deadline
        self.connections: list[HTTPConnection] = []
        self.expired = False
        self.lock = threading.Lock()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def connect(self, timeout: float | None) -> socket.socket:
        """Connect to the checked addresses in order (never resolving the host again)."""
        last: OSError | None = None
        for family, sockaddr in self.target.addresses:
            remaining = self.remaining()
            if remaining <= 0 or self.expired:
                raise TimeoutError("the call's deadline passed while connecting")
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(min(timeout, remaining) if timeout is not None else remaining)
                sock.connect(sockaddr)
                return sock
            except OSError as error:
                sock.close()
                last = error
        raise last or OSError("no address to connect to")

    def shutdown_all(self) -> None:
        with self.lock:
            self.expired = True
            for conn in self.connections:
                sock = conn.sock
                if sock is not None:
                    with contextlib.suppress(OSError):  # already closed
                        sock.shutdown(socket.SHUT_RDWR)


class _PinnedMixin:
    call: _Call  # set on the class built for one call
    host: str
    port: int

    def _new_conn(self) -> socket.socket:
        with self.call.lock:
            self.call.connections.append(self)  # type: ignore[arg-type]
        try:
            return self.call.connect(self.timeout)  # type: ignore[attr-defined]
        except TimeoutError as error:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out: {error}") from error
        except OSError as error:
            raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error  # type: ignore[arg-type]

    @property
    def timeout(self) -> float | None:
        """Every socket operation waits at most until the call's deadline."""
        remaining = max(self.call.remaining(), 0.001)
        own = self._own_timeout
        return remaining if own is None or not isinstance(own, int | float) else min(float(own), remaining)

    @timeout.setter
    def timeout(self, value: Any) -> None:
        self._own_timeout = value


class PinnedAdapter(HTTPAdapter):
    """A transport adapter whose connections go only to one checked target's addresses."""

    def __init__(self, call: _Call) -> None:
        self._call = call
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        namespace = {"call": self._call}
        http_conn = type("PinnedHTTPConnection", (_PinnedMixin, HTTPConnection), dict(namespace))
        https_conn = type("PinnedHTTPSConnection", (_PinnedMixin, HTTPSConnection), dict(namespace))
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("PinnedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("PinnedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
        }

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise ConfigurationError("outbound calls do not go through proxies")


# --- the call ----------------------------------------------------------------------------------


@dataclass
class Answer:
    """What came back: the response (headers, status) and the body read within the limits."""

    response: requests.Response
    content: bytes
    truncated: bool
    elapsed_seconds: float

    @property
    def text(self) -> str:
        encoding = self.response.encoding or "utf-8"
        try:
            return self.content.decode(encoding, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


def fetch(
    method: str,
    url: str,
    *,
    target: Target | None = None,
    policy: OutboundPolicy | None = None,
    timeout_seconds: float,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    data: str | bytes | None = None,
    verify: bool | str = True,
) -> Answer:
    """Make one call under the guard: checked target, pinned connection, total deadline, byte cap.

    ``target`` is the URL's host already checked by ``check_url`` (else ``policy`` checks it here).
    Raises ``ConfigurationError`` (refused target, bad URL), ``TransientError`` (resolution,
    network error, deadline) with the cause; an answer of any status is returned.
    """
    if target is None:
        if policy is None:
            raise ValueError("fetch needs a checked target or a policy to check the URL with")
        target = check_url(url, policy)
    started = time.monotonic()
    call = _Call(target, started + timeout_seconds)
    done = threading.Event()

    def watchdog() -> None:
        wait = timeout_seconds
        while not done.wait(wait):
            call.shutdown_all()  # wakes any blocked read; repeated in case a connection raced it
            wait = 0.05

    guard = threading.Thread(target=watchdog, name="outbound-deadline", daemon=True)
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc from the environment: the pin is the route
    adapter = PinnedAdapter(call)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    guard.start()
    try:
        try:
            response = session.request(
                method,
                url,
                headers=headers,
                data=data,
                timeout=(timeout_seconds, timeout_seconds),
                allow_redirects=False,
                stream=True,
                verify=verify,
            )
            content, truncated = _read_capped(response, call, max_bytes)
        except requests.RequestException as error:
            if call.expired or call.remaining() <= 0:
                raise TransientError(f"no complete answer within {timeout_seconds:g}s") from error
            if isinstance(error, requests.Timeout):
                raise TransientError(f"no answer within {timeout_seconds:g}s: {error}") from error
            if _certificate_refused(error):  # the target's certificate, not the network: retrying repeats it
                raise ConfigurationError(f"the target's TLS certificate was refused: {error}") from error
            if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
                raise TransientError(f"network error: {error}") from error
            raise ConfigurationError(f"request could not be sent: {error}") from error
        return Answer(response, content, truncated, time.monotonic() - started)
    finally:
        done.set()
        session.close()


def _certificate_refused(error: BaseException) -> bool:
    """Whether certificate verification refused the target (requests wraps urllib3's error, which
    wraps the ssl module's, in its arguments or its cause)."""
    seen: object = error
    for _ in range(8):
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        if not isinstance(seen, BaseException):
            return False
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = seen.__cause__ or inner or seen.__context__
    return False


def _read_capped(response: requests.Response, call: _Call, max_bytes: int) -> tuple[bytes, bool]:
    """Read the body until it ends, ``max_bytes`` are read (truncated), or the deadline passes."""
    raw = response.raw
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= max_bytes:
            if call.expired or call.remaining() <= 0:
                raise requests.Timeout("the call's deadline passed while reading the body")
            want = min(CHUNK_BYTES, max_bytes + 1 - size)
            chunk = raw.read1(want, decode_content=True) if hasattr(raw, "read1") else raw.read(want)
            if not chunk:
                if call.expired:
                    raise requests.Timeout("the call's deadline passed while reading the body")
                break
            chunks.append(chunk)
            size += len(chunk)
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:  # cut off, bad chunk
        if call.expired:
            raise requests.Timeout(f"the call's deadline passed while reading the body: {error}") from error
        raise requests.exceptions.ChunkedEncodingError(f"the answer was cut off: {error}") from error
    finally:
        response.close()
    body = b"".join(chunks)
    return (body[:max_bytes], True) if len(body) > max_bytes else (body, False)
