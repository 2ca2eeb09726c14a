"""Helpers for tests that start server processes: free ports, tied lifetimes."""

import ctypes
import signal
import socket

PR_SET_PDEATHSIG = 1


def free_port():
    """Return a loopback port that is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_port_pair():
    """Return a free loopback port whose successor is free too.

    bao -dev serves its cluster listener on the API port + 1.
    """
    for _ in range(50):
        port = free_port()
        if port >= 65535:
            continue
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports on 127.0.0.1")


def die_with_parent():
    """preexec_fn: if the test process is killed outright, kill the child too."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
