"""Canary: the offline guard refuses the network in this process and in child processes."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


def test_guard_refuses_remote_connect_in_process():
    with pytest.raises(OSError, match="offline guard"):
        socket.create_connection(("203.0.113.7", 80), timeout=1)


def test_guard_refuses_name_resolution():
    with pytest.raises(socket.gaierror, match="offline guard"):
        socket.getaddrinfo("pypi.org", 443)


def test_guard_allows_loopback():
    # a connection to 127.0.0.1 goes through and carries bytes both ways
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5) as client:
            peer, _ = server.accept()
            with peer:
                client.sendall(b"ping")
                assert peer.recv(4) == b"ping"
                peer.sendall(b"pong")
                assert client.recv(4) == b"pong"


def test_guard_is_active_in_child_processes():
    code = "import socket; socket.create_connection(('198.51.100.1', 443), timeout=1)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "offline guard" in proc.stderr
