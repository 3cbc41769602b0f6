"""casedesk_runtime.testing.sockets reads /proc right: the benches' per-worker figures need it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from casedesk_runtime.testing.sockets import (
    ESTABLISHED,
    connections_by_worker,
    established_peers,
    free_port,
    listeners,
    sockets_on,
)


def test_a_listener_and_its_connection_are_found_and_owned_by_this_process() -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)) as server:
        assert len(listeners(port)) == 1
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            with accepted:
                client_port = client.getsockname()[1]
                # The server side's peer is the client's address, in /proc's hexadecimal form.
                assert any(peer.endswith(f":{client_port:04X}") for peer in established_peers(port))
                owned = connections_by_worker(os.getpid(), port)
                assert list(owned) == [os.getpid()]  # no workers: the process is its own
                assert owned[os.getpid()] == set(sockets_on(port, ESTABLISHED))
                assert len(owned[os.getpid()]) == 1
    assert listeners(port) == set()


WORKER = """
import socket, sys
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("listening", flush=True)
accepted, _ = server.accept()
print("accepted", flush=True)
sys.stdin.read()
"""


def test_a_connection_is_owned_by_the_worker_that_accepted_it() -> None:
    port = free_port()
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == b"listening"
        with socket.create_connection(("127.0.0.1", port)):
            assert worker.stdout.readline().strip() == b"accepted"
            owned = connections_by_worker(os.getpid(), port)
            # This process has one child (the worker): the accepted end is the worker's; the
            # client end here is not on `port` locally, so it is nobody's.
            assert owned == {worker.pid: set(sockets_on(port, ESTABLISHED))}
            assert len(owned[worker.pid]) == 1
    finally:
        worker.kill()
        worker.wait()
