"""Tests never reach the network: a socket guard that lets loopback through and fails any test that tries more.

:func:`install` wraps ``socket.socket.connect`` / ``connect_ex`` / ``sendto`` once per process. A connection to
anything but loopback (127.0.0.0/8, ::1, ``localhost``) or a Unix socket raises :class:`NetworkBlocked` (an
``OSError``, so library code sees an ordinary network failure) and is recorded; the autouse fixture in
``tests/conftest.py`` then fails the test even if the code under test swallowed the error. Loopback stays open for
the DDP test (gloo), the JupyterLab browser test and notebook kernels.
"""
from __future__ import annotations

import ipaddress
import socket

#: Non-loopback addresses that code tried to reach since the list was last cleared.
attempts: list[str] = []
_installed = False


class NetworkBlocked(OSError):
    """Raised when a test opens a non-loopback network connection."""


def is_loopback(address) -> bool:
    """True for a Unix-socket path or an (host, port, ...) address whose host is loopback."""
    if not isinstance(address, tuple):
        return True  # AF_UNIX path (str/bytes) or an abstract socket name
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    host = host.split("%")[0]
    if host in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: resolving it already goes to the network


def _check(sock: socket.socket, address) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
        attempts.append(repr(address))
        raise NetworkBlocked(f"tests may not use the network: connection to {address!r} blocked "
                             "(only loopback is allowed; tests run with COURSE_OFFLINE=1)")


def install() -> None:
    """Wrap the socket methods (idempotent)."""
    global _installed
    if _installed:
        return
    connect, connect_ex, sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto

    def guarded_connect(self, address):
        _check(self, address)
        return connect(self, address)

    def guarded_connect_ex(self, address):
        _check(self, address)
        return connect_ex(self, address)

    def guarded_sendto(self, data, *args):
        _check(self, args[-1])
        return sendto(self, data, *args)

    socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = (
        guarded_connect, guarded_connect_ex, guarded_sendto)
    _installed = True
