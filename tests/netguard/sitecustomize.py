"""The test suite's network guard: Python processes started with this directory on PYTHONPATH (every test
process, and the processes tests start, which inherit the variable: tests/conftest.py puts it there) may
connect only to loopback addresses and resolve only loopback names. Anything else (a real exchange, real
Telegram) is refused with an OSError and written to the file MULTIBOT_NET_GUARD_LOG names, and the test
session fails on any line in it, even where the code under test swallowed the error and retried."""

from __future__ import annotations

import ipaddress
import os
import socket

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def _loopback(host: object) -> bool:
    if host in (None, "", b""):
        return True  # a server binding / connecting to "any" on this machine
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text.lower() in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False  # a name that is not loopback's
    return address.is_loopback or address.is_unspecified  # 0.0.0.0 / ::, a server's "every address here"


def _refuse(what: str, target: object) -> None:
    line = f"{os.getpid()} {what} {target!r}\n"
    log = os.environ.get("MULTIBOT_NET_GUARD_LOG")
    if log:
        with open(log, "a") as out:
            out.write(line)
    raise OSError(f"network guard: tests may only reach loopback, not {target!r} ({what})")


def install() -> None:
    if getattr(socket, "_multibot_guarded", False):
        return
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def _check(sock: socket.socket, address: object, what: str) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            if not _loopback(address[0]):
                _refuse(what, address)

    def connect(self: socket.socket, address: object) -> None:
        _check(self, address, "connect")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        _check(self, address, "connect")
        return real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if not _loopback(host):
            _refuse("resolve", host)
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket._multibot_guarded = True  # type: ignore[attr-defined]


if os.environ.get("MULTIBOT_NET_GUARD") == "1":
    install()


def child_pythonpath(*paths: object) -> str:
    """PYTHONPATH for a process a test starts: this guard first, then `paths`."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.pathsep.join([here, *(str(p) for p in paths)])
