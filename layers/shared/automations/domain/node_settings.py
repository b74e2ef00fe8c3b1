"""What node executors may know of the deployment (``NodeSettings``), and its outbound allowlist.

Apart from ``automations.nodes``, so that ``automations.settings`` (read by every function)
validates these without importing the node package, whose ``__init__`` imports every node type.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

GuardMode = Literal["strict", "loopback", "offline"]
GUARD_MODES: tuple[GuardMode, ...] = ("strict", "loopback", "offline")


@dataclass(frozen=True)
class NodeSettings:
    # the outbound guard (nodes.outbound): "strict" (deployed), "loopback" (the local stack) or
    # "offline" (loopback only and no name lookups: the test suite's local stacks)
    outbound_guard: GuardMode = "strict"
    # networks (CIDR) and host names ("*.corp.example") a deployment may call although private
    outbound_allowlist: tuple[str, ...] = ()
    max_recorded_body_bytes: int = 16_384
    sendgrid_base_url: str = "https://api.sendgrid.com"
    email_default_from: str = "no-reply@example.com"
    connections_parameter_prefix: str = "/automations/connections/"


# An allowlist entry that is not a network must be a host name, or "*." and a domain.
_HOST_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$")


def allowlist_entry(raw: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | str:
    """One ``OUTBOUND_ALLOWLIST`` entry: a network (CIDR, no host bits), or a host name (``*.`` and a
    domain for every name under it, returned lower-case without a final dot); ``ValueError`` names
    an entry that is neither. Settings validate with it at start; the guard reads with it."""
    entry = raw.strip().lower()
    try:
        return ipaddress.ip_network(entry, strict=True)
    except ValueError as error:
        if "/" in entry or ":" in entry or entry.replace(".", "").isdigit():
            raise ValueError(f"allowlist entry '{raw}' is not a valid network: {error}") from error
    if not _HOST_NAME.match(entry):
        raise ValueError(f"allowlist entry '{raw}' is neither a network (CIDR) nor a host name")
    return entry.rstrip(".")
