"""The outbound guard: which addresses a node may call, that it connects only to the address it
checked, and that an attempt has a total deadline and a byte cap.

No traffic leaves this machine: resolution (``socket.getaddrinfo``) and the socket connect are
stubbed. The stubbed resolver answers the names a test gives it and parses numeric spellings
with the real resolver in numeric-only mode (no DNS); the stubbed connect records every address
and refuses any that is not loopback, so a guard that fails opens no connection. Where a test
needs an answer from a "public" address, the stub forwards that one address to the loopback
target server.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from automations.domain.node_settings import NodeSettings
from automations.errors import NODE_RETRIERS, ConfigurationError, PermanentError, TransientError
from automations.nodes.http_request import MAX_OUTPUT_BODY_BYTES, HttpRequestNode, send
from automations.nodes.outbound import OutboundPolicy, check_url, fetch, refusal
from automations.nodes.send_email import post_mail
from automations.settings import Settings
from tests.support.target import TargetServer

STRICT = NodeSettings(outbound_guard="strict", max_recorded_body_bytes=1024)
LOOPBACK = NodeSettings(outbound_guard="loopback", max_recorded_body_bytes=1024)
PUBLIC_V4 = "93.184.216.34"
REAL_GETADDRINFO = socket.getaddrinfo
REAL_CONNECT = socket.socket.connect


@dataclass
class Net:
    """The stubbed network: what was looked up, what was connected to."""

    names: dict[str, list[list[str]]] = field(default_factory=dict)  # host -> successive answers
    forward: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)  # "public" -> loopback
    lookups: list[str] = field(default_factory=list)
    connects: list[tuple[str, int]] = field(default_factory=list)

    def resolve(self, host: str, *addresses: str) -> None:
        self.names.setdefault(host, []).append(list(addresses))

    def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0):
        answers = None if flags & socket.AI_NUMERICHOST else self.names.get(str(host))
        if answers is None:  # numeric spellings only: the real resolver's parsing, no DNS
            if not flags & socket.AI_NUMERICHOST:
                self.lookups.append(str(host))
            return REAL_GETADDRINFO(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        self.lookups.append(str(host))
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        infos = []
        for address in addresses:
            af = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, int(port), 0, 0) if af == socket.AF_INET6 else (address, int(port))
            infos.append((af, socket.SOCK_STREAM, 6, "", sockaddr))
        return infos

    def connect(self, sock: socket.socket, address: Any) -> None:
        """Record; forward a "public" address the test serves from loopback; refuse anything else."""
        host, port = str(address[0]), int(address[1])
        self.connects.append((host, port))
        if (host, port) in self.forward:
            REAL_CONNECT(sock, self.forward[(host, port)])
        elif host in ("127.0.0.1", "::1"):
            REAL_CONNECT(sock, address)
        else:
            raise ConnectionRefusedError(f"stubbed connect: no traffic to {host} leaves this machine")


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> Iterator[Net]:
    stub = Net()
    monkeypatch.setattr(socket, "getaddrinfo", stub.getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: stub.connect(sock, address))
    yield stub


def http_node(url: str, **fields: Any) -> HttpRequestNode:
    return HttpRequestNode.model_validate({"id": "call", "type": "http_request", "url": url, **fields})


def call(url: str, settings: NodeSettings = STRICT, **fields: Any):
    return send(http_node(url, **fields), {"url": url, "headers": {}, "body": None}, settings)


# --- the table: every form refused in strict mode, before any connection -------------------------

REFUSED: list[tuple[str, str, dict[str, list[str]]]] = [
    ("loopback", "http://127.0.0.1/", {}),
    ("loopback range", "http://127.8.9.10:8080/", {}),
    ("decimal", "http://2130706433/", {}),
    ("hex, short", "http://0x7f.1/", {}),
    ("hex, whole", "http://0x7f000001/", {}),
    ("octal", "http://0177.0.0.1/", {}),
    ("short form", "http://127.1/", {}),
    ("IPv6 loopback", "http://[::1]/", {}),
    ("IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/", {}),
    ("IPv4-mapped, hex", "http://[::ffff:7f00:1]/", {}),
    ("IPv4-mapped metadata", "http://[::ffff:169.254.169.254]/", {}),
    ("private 10/8", "http://10.0.0.1/", {}),
    ("private 172.16/12", "http://172.16.5.4/", {}),
    ("private 192.168/16", "http://192.168.1.1/", {}),
    ("CGNAT 100.64/10", "http://100.64.0.1/", {}),
    ("metadata", "http://169.254.169.254/latest/meta-data/", {}),
    ("ECS task metadata", "http://169.254.170.2/v2/credentials", {}),
    ("metadata, decimal", "http://2852039166/", {}),
    ("link-local", "http://169.254.10.10/", {}),
    ("metadata over IPv6", "http://[fd00:ec2::254]/", {}),
    ("IPv6 link-local", "http://[fe80::1]/", {}),
    ("unique-local fc00::/7", "http://[fd12:3456::1]/", {}),
    ("multicast", "http://224.0.0.1/", {}),
    ("IPv6 multicast", "http://[ff02::1]/", {}),
    ("unspecified", "http://0.0.0.0/", {}),
    ("unspecified, short", "http://0/", {}),
    ("IPv6 unspecified", "http://[::]/", {}),
    ("reserved 240/4", "http://240.0.0.1/", {}),
    ("broadcast", "http://255.255.255.255/", {}),
    ("benchmarking", "http://198.18.0.1/", {}),
    ("documentation", "http://203.0.113.9/", {}),
    ("IPv6 documentation", "http://[2001:db8::1]/", {}),
    ("NAT64 of metadata", "http://[64:ff9b::a9fe:a9fe]/", {}),
    ("NAT64 of loopback", "http://[64:ff9b::7f00:1]/", {}),
    ("local-use NAT64", "http://[64:ff9b:1::a00:1]/", {}),
    ("IPv4-compatible metadata", "http://[::169.254.169.254]/", {}),
    ("IPv4-compatible loopback", "http://[::127.0.0.1]/", {}),
    ("6to4 of metadata", "http://[2002:a9fe:a9fe::]/", {}),
    ("6to4 of private", "http://[2002:a00:1::1]/", {}),
    ("Teredo", "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", {}),
    ("https, loopback", "https://127.0.0.1:8443/", {}),
    ("name -> private", "http://internal.example/", {"internal.example": ["10.1.2.3"]}),
    ("name -> metadata", "http://metadata.example/", {"metadata.example": ["169.254.169.254"]}),
    ("name -> loopback", "http://localhost:8080/", {"localhost": ["127.0.0.1", "::1"]}),
    ("name -> NAT64 metadata", "http://nat64.example/", {"nat64.example": ["64:ff9b::a9fe:a9fe"]}),
    ("name -> public and private", "http://mixed.example/", {"mixed.example": [PUBLIC_V4, "10.0.0.5"]}),
]


def test_the_table_is_at_least_25_forms() -> None:
    assert len(REFUSED) >= 25


@pytest.mark.parametrize(("form", "url", "names"), REFUSED, ids=[row[0] for row in REFUSED])
def test_every_inward_form_is_refused_in_strict_mode_before_any_connection(
    net: Net, form: str, url: str, names: dict[str, list[str]]
) -> None:
    # Given the deployed (strict) guard, and names resolving as the row says
    for host, addresses in names.items():
        net.resolve(host, *addresses)
    # When an http_request node calls the URL
    with pytest.raises(ConfigurationError, match="refused") as refused:
        call(url)
    # Then it is refused with a permanent error, after one lookup and without any connection
    assert isinstance(refused.value, PermanentError) and not refused.value.retryable
    assert net.connects == []
    assert len(net.lookups) == 1


def test_a_refusal_is_one_attempt_the_state_machine_never_retries() -> None:
    # ConfigurationError is in no Retry block of the deployed ASL (checked against these profiles)
    assert all("ConfigurationError" not in profile.error_equals for profile in NODE_RETRIERS)
    assert not ConfigurationError.retryable


def test_a_refusal_names_the_reason_and_the_address_a_name_resolved_to(net: Net) -> None:
    net.resolve("internal.example", "10.1.2.3")
    with pytest.raises(ConfigurationError) as refused:
        call("http://internal.example/x")
    assert refused.value.message == "target 'internal.example' (resolves to 10.1.2.3) is refused: private (RFC 1918)"
    with pytest.raises(ConfigurationError) as nat64:
        call("http://[64:ff9b::a9fe:a9fe]/")
    assert "NAT64, carrying 169.254.169.254: a cloud metadata address" in nat64.value.message


# --- allowed: the call goes to the checked address, and only there ------------------------------


@pytest.mark.parametrize(
    "address",
    [PUBLIC_V4, "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"],
    ids=["public IPv4", "public IPv6", "NAT64 of public", "6to4 of public"],
)
def test_a_public_address_is_allowed_and_connected_to_as_checked(net: Net, address: str) -> None:
    # Given a name resolving to a public address (the stubbed connect refuses: nothing leaves)
    net.resolve("api.example", address)
    # When the node calls it
    outcome = call("http://api.example/v1")
    # Then the guard let it through and the one connection went to the checked address
    assert net.connects == [(address, 80)]
    assert isinstance(outcome.error, TransientError) and "no traffic" in outcome.error.message


def test_a_name_that_rebinds_between_lookups_reaches_only_the_first_checked_address(
    net: Net, target: TargetServer
) -> None:
    # Given a name answering a public address first and 127.0.0.1 second (DNS rebinding), and the
    # "public" address served by the loopback target
    port = target.server.server_address[1]
    net.resolve("rebind.example", PUBLIC_V4)
    net.resolve("rebind.example", "127.0.0.1")
    net.forward[(PUBLIC_V4, port)] = ("127.0.0.1", port)
    target.script("/guard/rebind", (200, {"served": True}))
    # When the node calls it in strict mode
    outcome = call(f"http://rebind.example:{port}/guard/rebind")
    # Then the name was resolved once, the connection went to the checked address, and the Host
    # header still names the host
    assert outcome.error is None and outcome.output["body"] == {"served": True}
    assert net.lookups == ["rebind.example"]
    assert net.connects == [(PUBLIC_V4, port)]
    assert target.calls("/guard/rebind")[-1]["headers"]["Host"] == f"rebind.example:{port}"


def test_a_redirect_to_a_private_address_is_not_followed(net: Net, target: TargetServer) -> None:
    # Given a public name whose answer redirects to the metadata endpoint
    port = target.server.server_address[1]
    net.resolve("redirector.example", PUBLIC_V4)
    net.forward[(PUBLIC_V4, port)] = ("127.0.0.1", port)
    target.script("/guard/redirect", (302, {}, {"Location": "http://169.254.169.254/latest/meta-data/"}))
    # When the node calls it
    outcome = call(f"http://redirector.example:{port}/guard/redirect")
    # Then the 3xx is the output, and nothing else was looked up or connected to
    assert outcome.error is None and outcome.output["status"] == 302
    assert outcome.output["headers"]["Location"] == "http://169.254.169.254/latest/meta-data/"
    assert net.lookups == ["redirector.example"] and net.connects == [(PUBLIC_V4, port)]


# --- modes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "loopback_mode", "strict_mode"),
    [
        ("http://127.0.0.1/", True, False),
        ("http://127.1/", True, False),
        ("http://2130706433/", True, False),
        ("http://[::1]/", True, False),
        ("http://[::ffff:127.0.0.1]/", False, False),  # loopback as spelled, not carried inside IPv6
        ("http://10.0.0.1/", False, False),
        ("http://192.168.1.1/", False, False),
        ("http://169.254.169.254/", False, False),
        (f"http://{PUBLIC_V4}/", True, True),
    ],
)
def test_the_local_stack_allows_loopback_only_and_strict_allows_neither(
    net: Net, url: str, loopback_mode: bool, strict_mode: bool
) -> None:
    for mode, allowed in (("loopback", loopback_mode), ("strict", strict_mode)):
        if allowed:
            check_url(url, OutboundPolicy.of(mode))
        else:
            with pytest.raises(ConfigurationError):
                check_url(url, OutboundPolicy.of(mode))
    assert net.connects == []


def test_loopback_mode_calls_the_loopback_target(target: TargetServer) -> None:
    url = target.script("/guard/ok", (200, {"id": 1}))
    assert call(url, LOOPBACK).output["body"] == {"id": 1}
    with pytest.raises(ConfigurationError, match="loopback"):
        call(url, STRICT)


# --- offline: loopback only, and no name is looked up (the test suite's local stacks) -----------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:9/", True),
        ("http://127.3.2.1/", True),
        ("http://[::1]:9/", True),
        ("http://2130706433/", True),  # numeric spellings still parse: no lookup needed
        ("http://localhost:9/", True),
        ("http://api.localhost/", True),
        ("http://example.com/", False),
        ("http://localhost.example/", False),
        (f"http://{PUBLIC_V4}/", False),
        ("http://10.0.0.1/", False),
        ("http://[::ffff:127.0.0.1]/", False),
        ("http://169.254.169.254/", False),
    ],
)
def test_offline_mode_allows_loopback_only_and_never_asks_a_resolver(net: Net, url: str, allowed: bool) -> None:
    # Given a resolver that would answer any name with a loopback address
    net.resolve("example.com", "127.0.0.1")
    net.resolve("localhost.example", "127.0.0.1")
    # When the offline guard checks the URL
    if allowed:
        target = check_url(url, OutboundPolicy.of("offline"))
        assert all(_loopback(sockaddr[0]) for _, sockaddr in target.addresses)
    else:
        with pytest.raises(ConfigurationError, match=r"offline|metadata"):
            check_url(url, OutboundPolicy.of("offline"))
    # Then no name reached the resolver except as a numeric spelling
    assert not {"example.com", "localhost.example", "localhost", "api.localhost"} & set(net.lookups)
    assert net.connects == []


def _loopback(address: str) -> bool:
    return address == "::1" or address.startswith("127.")


# --- the allowlist ------------------------------------------------------------------------------


def test_the_allowlist_opens_the_networks_and_hosts_it_names_and_never_metadata(net: Net) -> None:
    policy = OutboundPolicy.of("strict", ["10.20.0.0/16", "billing.internal", "*.corp.example", "169.254.0.0/16"])
    net.resolve("billing.internal", "10.9.9.9")
    net.resolve("crm.corp.example", "192.168.3.3")
    net.resolve("corp.example", "192.168.3.4")
    net.resolve("other.internal", "10.9.9.10")
    for url in ("http://10.20.1.2/", "http://billing.internal/", "http://crm.corp.example/", "http://169.254.1.1/"):
        check_url(url, policy)
    for url in ("http://10.21.0.1/", "http://corp.example/", "http://other.internal/", "http://127.0.0.1/"):
        with pytest.raises(ConfigurationError):
            check_url(url, policy)
    # metadata addresses stay refused, whatever the allowlist says
    with pytest.raises(ConfigurationError, match="metadata"):
        check_url("http://169.254.169.254/", policy)
    net.resolve("meta.corp.example", "169.254.169.254")
    with pytest.raises(ConfigurationError, match="metadata"):
        check_url("http://meta.corp.example/", policy)
    assert net.connects == []


def test_the_settings_read_the_guard_and_validate_the_allowlist() -> None:
    base = {"TABLE_NAME": "automations"}
    assert Settings.model_validate(base).node_settings().outbound_guard == "strict"  # deployed default
    assert Settings.model_validate({**base, "OUTBOUND_GUARD": "loopback"}).node_settings().outbound_guard == "loopback"
    settings = Settings.model_validate({**base, "OUTBOUND_ALLOWLIST": " 10.20.0.0/16, billing.internal ,fd12::/64"})
    assert settings.node_settings().outbound_allowlist == ("10.20.0.0/16", "billing.internal", "fd12::/64")
    for bad in ("10.0.0.0/33", "10.0.0.1/8", "not a host!", "300.1.2.3"):
        with pytest.raises(ValidationError, match="allowlist entry"):
            Settings.model_validate({**base, "OUTBOUND_ALLOWLIST": bad})
    with pytest.raises(ValidationError):
        Settings.model_validate({**base, "OUTBOUND_GUARD": "off"})


def test_the_local_stack_is_loopback_unless_started_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    from devstack.stack import outbound_guard_environment

    monkeypatch.delenv("AUTOMATIONS_SSRF_GUARD", raising=False)
    assert outbound_guard_environment()["OUTBOUND_GUARD"] == "loopback"
    monkeypatch.setenv("AUTOMATIONS_SSRF_GUARD", "strict")
    assert outbound_guard_environment() == {"OUTBOUND_GUARD": "strict"}
    monkeypatch.setenv("AUTOMATIONS_SSRF_GUARD", "offline")
    assert outbound_guard_environment() == {"OUTBOUND_GUARD": "offline"}
    monkeypatch.setenv("AUTOMATIONS_SSRF_GUARD", "off")
    with pytest.raises(RuntimeError, match="AUTOMATIONS_SSRF_GUARD"):
        outbound_guard_environment()


def test_the_deployed_template_keeps_the_guard_on(template: dict[str, Any]) -> None:
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    environments = [template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})]
    environments += [f["Properties"].get("Environment", {}).get("Variables", {}) for f in functions]
    for variables in environments:
        assert variables.get("OUTBOUND_GUARD", "strict") == "strict"


def test_send_email_base_url_goes_through_the_guard(net: Net) -> None:
    settings = NodeSettings(outbound_guard="strict", sendgrid_base_url="http://169.254.169.254")
    payload = {"personalizations": [{"to": [{"email": "a@b.c"}]}]}
    with pytest.raises(ConfigurationError, match="metadata"):
        post_mail(payload, "SG.key", settings)
    assert net.connects == []


# --- the total deadline and the byte cap, against the real loopback target -----------------------


def test_a_drip_feeding_target_is_cut_at_the_deadline(target: TargetServer) -> None:
    # Given a target that sends its headers at once, then a byte every 0.2 s for a minute
    url = target.drip("/guard/drip", every=0.2, for_seconds=60)
    # When the node calls it with a 1 s timeout
    started = time.monotonic()
    outcome = call(url, LOOPBACK, timeoutSeconds=1)
    elapsed = time.monotonic() - started
    # Then the attempt ends at the deadline, as a transient error
    assert isinstance(outcome.error, TransientError) and "within 1s" in outcome.error.message
    assert 0.9 <= elapsed < 2.0


def test_a_silent_target_is_cut_at_the_deadline_too(target: TargetServer) -> None:
    url = target.drip("/guard/silent", every=5, for_seconds=10)  # one byte, then silence
    started = time.monotonic()
    outcome = call(url, LOOPBACK, timeoutSeconds=0.5)
    assert isinstance(outcome.error, TransientError)
    assert time.monotonic() - started < 1.5


def test_a_big_answer_is_read_only_up_to_the_cap(target: TargetServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a target answering 10 MB, and a count of the bytes the client's sockets receive
    url = target.script("/guard/big", (200, "x" * 10_000_000))
    received = [0]
    real_recv_into = socket.socket.recv_into

    def counting_recv_into(sock: socket.socket, buffer: Any, *args: Any) -> int:
        n = real_recv_into(sock, buffer, *args)
        received[0] += n
        return n

    monkeypatch.setattr(socket.socket, "recv_into", counting_recv_into)
    # When the node calls it
    outcome = call(url, LOOPBACK)
    # Then the output is cut at its cap and marked truncated, the record too, and far less than
    # 10 MB was read
    assert outcome.error is None
    assert outcome.output["bodyTruncated"] is True and len(outcome.output["body"]) == MAX_OUTPUT_BODY_BYTES
    assert outcome.http.response["bodyTruncated"] is True and len(outcome.http.response["body"]) == 1024
    assert received[0] < 1_000_000


def test_fetch_stops_reading_at_max_bytes(target: TargetServer) -> None:
    url = target.script("/guard/big2", (200, "y" * 200_000))
    answer = fetch("GET", url, policy=OutboundPolicy.of("loopback"), timeout_seconds=5, max_bytes=1000)
    assert answer.truncated and answer.content == b'"' + b"y" * 999
    small = fetch(
        "GET",
        target.script("/guard/small", (200, {"a": 1})),
        policy=OutboundPolicy.of("loopback"),
        timeout_seconds=5,
        max_bytes=1000,
    )
    assert not small.truncated and json.loads(small.content) == {"a": 1}


def test_refusal_reasons_for_a_few_addresses() -> None:
    import ipaddress

    strict = OutboundPolicy.of("strict")
    assert refusal(ipaddress.ip_address("100.64.0.1"), strict) == "shared address space (CGNAT)"
    assert refusal(ipaddress.ip_address("2002:a9fe:a9fe::"), strict) == (
        "6to4, carrying 169.254.169.254: a cloud metadata address"
    )
    assert refusal(ipaddress.ip_address("8.8.8.8"), strict) is None


# --- TLS: the pinned connection still verifies the host name -------------------------------------


def _self_signed(tmp_path: Any, name: str) -> tuple[str, str]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_target(tmp_path: Any) -> Iterator[tuple[int, str, list[str | None]]]:
    """An HTTPS server on loopback with a certificate for 'pinned.test'; records the SNI names it sees."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    cert, key = _self_signed(tmp_path, "pinned.test")
    seen: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, server_name, _ctx: seen.append(server_name)  # type: ignore[assignment,misc,func-returns-value]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = json.dumps({"host": self.headers["Host"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client refusing the certificate breaks off the handshake: expected here

    server = Server(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert, seen
    server.shutdown()


def test_tls_to_a_pinned_address_sends_the_host_name_and_verifies_it(
    net: Net, tls_target: tuple[int, str, list[str | None]]
) -> None:
    port, ca, seen = tls_target
    policy = OutboundPolicy.of("loopback")
    # Given 'pinned.test' resolving to the loopback HTTPS server whose certificate names it
    net.resolve("pinned.test", "127.0.0.1")
    # When it is called over https, trusting that certificate
    answer = fetch("GET", f"https://pinned.test:{port}/", policy=policy, timeout_seconds=5, max_bytes=1000, verify=ca)
    # Then the connection went to the pinned address with the name as SNI and Host, and verified
    assert answer.response.status_code == 200 and json.loads(answer.content) == {"host": f"pinned.test:{port}"}
    assert seen == ["pinned.test"] and net.connects == [("127.0.0.1", port)]
    # and a name the certificate does not carry fails verification, though the address is the same:
    # permanent (ConfigurationError, one attempt), since a retry meets the same certificate
    net.resolve("other.test", "127.0.0.1")
    with pytest.raises(ConfigurationError, match=r"certificate was refused.*(certificate|hostname)"):
        fetch("GET", f"https://other.test:{port}/", policy=policy, timeout_seconds=5, max_bytes=1000, verify=ca)
    # as is a certificate no trusted authority signed
    with pytest.raises(ConfigurationError, match="certificate was refused"):
        fetch("GET", f"https://pinned.test:{port}/", policy=policy, timeout_seconds=5, max_bytes=1000, verify=True)


@pytest.mark.parametrize(
    "entry",
    [
        "10.0.0.0/8",
        "10.0.0.1",
        "fd12::/64",
        "::1",
        "a.example",
        "*.corp.example",
        "host.",
        "10.0.0.0/33",
        "10.0.0.1/8",
        "300.1.2.3",
        "not a host!",
        "*.",
        "-bad.example",
        "1.2.3",
        "fd12::zz",
    ],
)
def test_settings_and_the_guard_read_the_same_allowlist_syntax(entry: str) -> None:
    from automations.nodes.outbound import parse_allowlist
    from automations.settings import Settings

    def check_allowlist_entry(entry: str) -> None:
        try:
            Settings.model_validate({"TABLE_NAME": "automations", "OUTBOUND_ALLOWLIST": entry})
        except ValidationError as error:
            raise ValueError(str(error)) from error

    def accepted(check: Any) -> bool:
        try:
            check()
        except ValueError:
            return False
        return True

    assert accepted(lambda: check_allowlist_entry(entry)) == accepted(lambda: parse_allowlist([entry]))
