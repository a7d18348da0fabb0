"""The suite's network guard (tests/netguard/sitecustomize.py): a test process, and a process a test starts,
can reach loopback and nothing else; an attempt is refused and logged, which fails the run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.netguard import sitecustomize as guard


def test_loopback_is_reachable_and_other_hosts_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "guard.log"
    monkeypatch.setenv("MULTIBOT_NET_GUARD_LOG", str(log))  # this test's attempts stay out of the run's log
    server = socket.create_server(("127.0.0.1", 0))
    try:
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
    finally:
        server.close()
    with pytest.raises(OSError, match="network guard"):
        socket.getaddrinfo("api.bitget.com", 443)
    with pytest.raises(OSError, match="network guard"):
        socket.socket().connect(("149.154.167.220", 443))  # api.telegram.org's address, never dialled
    assert log.read_text().count("\n") == 2


def test_a_process_a_test_starts_is_guarded_too(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    code = "import socket\ntry:\n    socket.getaddrinfo('api.bitget.com', 443)\nexcept OSError as e:\n    print(e)"
    env = {**os.environ, "MULTIBOT_NET_GUARD_LOG": str(log), "PYTHONPATH": guard.child_pythonpath()}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert "network guard" in out.stdout, out.stderr
    assert "api.bitget.com" in log.read_text()
