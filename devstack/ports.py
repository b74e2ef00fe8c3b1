"""The stack's two ports (its API's and moto's), taken before anything else starts.

A port is bound and listening from the first moment, and each server adopts its socket when it is
ready to serve: no other program can take the port in the ~10 s the stack spends setting up, and
a busy port fails the start at once, in one line. Port 0 lets the system pick a free one (what
the tests do: a port chosen free beforehand can be taken by any program before the stack binds it).
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass


class PortUnavailable(Exception):
    """A port the stack was told to use cannot be listened on; the message is the one line to print."""


@dataclass(frozen=True)
class PortSetting:
    """How a user chooses a port: the environment variable and the command-line flag."""

    variable: str
    flag: str


API_PORT = PortSetting("AUTOMATIONS_PORT", "--port")
MOTO_PORT = PortSetting("AUTOMATIONS_MOTO_PORT", "--moto-port")


def listen(host: str, port: int, setting: PortSetting) -> socket.socket:
    """A socket listening on ``host:port`` (0: any free port), or ``PortUnavailable``."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    # As http.server and werkzeug do: a port left in TIME_WAIT by a stack just stopped is free.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        # Listening at once: a socket only bound (even with SO_REUSEADDR) does not keep another
        # program from binding the same port on Linux.
        listener.listen(256)
    except OSError as error:
        listener.close()
        raise PortUnavailable(_why(host, port, error, setting)) from error
    return listener


def _why(host: str, port: int, error: OSError, setting: PortSetting) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"devstack: port {port} on {host} is in use (another make local?); "
            f"set {setting.variable} or pass {setting.flag}"
        )
    return f"devstack: cannot listen on {host}:{port}: {error.strerror or error}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (for a URL that must refuse connections; not to start a server
    on later: another program may take it first, so servers listen on port 0)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
