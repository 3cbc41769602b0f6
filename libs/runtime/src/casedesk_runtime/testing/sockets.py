"""Which process holds which TCP socket, read from Linux's /proc: the benches and the workers test
use it to see how connections spread over the worker processes sharing one port (SO_REUSEPORT
lets the kernel pick a worker per connection, so a figure per worker needs to know whose is whose).
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

ESTABLISHED = "01"
LISTENING = "0A"


def sockets_on(port: int, state: str) -> dict[str, str]:
    """{inode: peer address} of the local TCP sockets on `port` in `state` (ESTABLISHED or
    LISTENING; /proc/net's hexadecimal state)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):  # gRPC listens on ::ffff:127.0.0.1 too
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found[fields[9]] = fields[2]
    return found


def established_peers(port: int) -> set[str]:
    """The peers of the established TCP connections to local `port`."""
    return set(sockets_on(port, ESTABLISHED).values())


def listeners(port: int) -> set[str]:
    """The listening sockets on `port`: one per worker process sharing it."""
    return set(sockets_on(port, LISTENING))


def workers_of(supervisor: int) -> list[int]:
    """The child processes of `supervisor` (its workers)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(child) for child in children]


def socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process `pid` holds open (empty once it is gone)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def connections_by_worker(supervisor: int, port: int) -> dict[int, set[str]]:
    """{worker pid: inodes of its established connections on `port`}; a process without workers
    is its own only worker."""
    here = set(sockets_on(port, ESTABLISHED))
    return {pid: socket_inodes(pid) & here for pid in workers_of(supervisor) or [supervisor]}


def free_port() -> int:
    """A TCP port on 127.0.0.1 free at the moment of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
