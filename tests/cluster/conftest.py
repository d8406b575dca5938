"""A real one-node SLURM cluster for the cluster tests (munged, slurmctld, slurmd; no systemd).

The ``slurm_cluster`` fixture writes ``slurm.conf``, ``gres.conf`` and ``cgroup.conf`` into a
private folder, starts a private ``munged`` (as user munge, own key and socket), ``slurmctld`` and
``slurmd`` in the foreground on free ports, waits until the node is idle, and at the end stops
exactly the processes it started, by pid. The node declares four fake GPUs (``Gres=gpu:4``
backed by character devices such as ``/dev/null``) so ``resources: gpu=1`` jobs schedule; it has
no accounting (``sacct`` answers nothing), like many small clusters, so the profile must poll
with ``squeue``.

It needs root and Debian's slurmctld, slurmd, slurm-client and munge (``make test-deps``);
without them every ``slurm`` test is skipped with the reason (see tests/conftest.py). In CI
(``CI`` set) a missing prerequisite is an error, not a skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DAEMONS = {
    "munged": "/usr/sbin/munged",
    "slurmctld": "/usr/sbin/slurmctld",
    "slurmd": "/usr/sbin/slurmd",
}
CLIENTS = ("sbatch", "squeue", "sinfo", "scontrol", "scancel")
START_TIMEOUT_S = 60
# Jobs stay visible to `squeue`/`scontrol` this long after they end (no accounting database).
MIN_JOB_AGE_S = 900
# The fake node: more CPUs/memory than this machine may have (config_overrides), so the
# profile's real-cluster requests (training rules) still fit; jobs simply share the cores.
# No CPU binding (TaskPlugin=task/none): binding a job to fake CPU ids leaves it fewer real
# cores than it asked for, the job's Snakemake (`--cores all`) then lowers the rule's threads,
# and a model trained with other threads differs in its last bits from the local run's.
NODE_CPUS = 16
NODE_MEMORY_MB = 64000
#: The node's fake GPUs, one character device each.
FAKE_GPU_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom")
TMP_PREFIX = "mosaicflow-slurm-"
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
RUN_CONF_DIR = Path("/run/slurm/conf")


@dataclass
class SlurmCluster:
    """A running private cluster: where its files are and how to talk to it."""

    root: Path
    conf: Path
    node: str
    partition: str
    env: dict[str, str]
    pids: dict[str, int] = field(default_factory=dict)

    def run(self, *cmd: str, timeout: float = 30, check: bool = True) -> str:
        """Run a SLURM client command against this cluster; return its stdout."""
        proc = subprocess.run(
            ["timeout", "-k", "5", str(int(timeout)), *cmd],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout + 10,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}\n"
                f"{self.logs_tail()}"
            )
        return proc.stdout

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller still remembers (pending, running and ended ones)."""
        out = self.run("scontrol", "--oneliner", "show", "jobs", check=False)
        records = []
        for line in out.splitlines():
            if "JobId=" not in line:
                continue
            record = {}
            for token in line.split():
                key, sep, value = token.partition("=")
                if sep and key not in record:
                    record[key] = value
            records.append(record)
        return records

    def logs_tail(self, chars: int = 3000) -> str:
        """The end of each daemon's log (for failure messages)."""
        parts = []
        for name in ("munged", "slurmctld", "slurmd"):
            folder = self.root / ("munge" if name == "munged" else "log")
            path = folder / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else "(no log)"
            parts.append(f"--- {name} log ---\n{text[-chars:]}")
        return "\n".join(parts)


def _missing_prerequisite() -> str | None:
    """Why the private cluster cannot start here (None: it can)."""
    return _missing_packages() or _config_place_taken()


def slurm_test_runs_here() -> bool:
    """Whether ``test_slurm.py``'s cluster run will really run on this machine: the packages,
    root and user are there and no machine-wide SLURM config would take its jobs (the
    ``/run/slurm/conf`` place may be held for a moment by this session's own cluster)."""
    return _missing_packages() is None and not DEFAULT_CONF.exists()


def _missing_packages() -> str | None:
    """Why this machine cannot run a SLURM test cluster at all: root, daemons, clients, user."""
    if os.geteuid() != 0:
        return "the SLURM test cluster needs root (munged runs as user munge, slurmd as root)"
    for path in DAEMONS.values():
        if not os.access(path, os.X_OK):
            return f"{path} is missing (run `make test-deps` as root)"
    for name in CLIENTS:
        if shutil.which(name) is None:
            return f"SLURM client `{name}` is missing (run `make test-deps` as root)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "user `munge` does not exist (Debian's munge package creates it)"
    return None


def _config_place_taken() -> str | None:
    """Why job steps could not find the private cluster's config (None: they can)."""
    if DEFAULT_CONF.exists():
        return (
            f"{DEFAULT_CONF} exists: job steps would use that cluster, not the private test "
            "cluster (the SLURM plugin drops SLURM_CONF inside jobs)"
        )
    if RUN_CONF_DIR.is_symlink():
        target = RUN_CONF_DIR.readlink()
        ours = str(target).startswith(os.path.join(tempfile.gettempdir(), TMP_PREFIX))
        if ours and not _daemons_running(target.parent):
            return None  # left by a killed test session: start_cluster replaces the link
    if RUN_CONF_DIR.exists() or RUN_CONF_DIR.is_symlink():
        return f"{RUN_CONF_DIR} exists: another slurmd (or test session) uses this machine"
    return None


def _daemons_running(root: Path) -> bool:
    """Whether any process still runs with a file of the test cluster ``root`` on its command
    line (its munged, slurmctld or slurmd)."""
    needle = str(root).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (proc / "cmdline").read_bytes():
                return True
    return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_configs(root: Path, node: str, munge_socket: Path) -> Path:
    state = root / "state"
    spool = root / "spool"
    for folder in (state, spool, root / "log", root / "run"):
        folder.mkdir(parents=True, exist_ok=True)
    node_line = (
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} RealMemory={NODE_MEMORY_MB} "
        f"Gres=gpu:{len(FAKE_GPU_FILES)} State=UNKNOWN"
    )
    conf = root / "etc" / "slurm.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    ctld_port, slurmd_port = _free_port(), _free_port()
    while slurmd_port == ctld_port:
        slurmd_port = _free_port()
    conf.write_text(
        f"""\
# Written by tests/cluster/conftest.py: a private one-node cluster without accounting.
ClusterName=mosaicflow-test
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={state}
SlurmdSpoolDir={spool}
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
GresTypes=gpu
ReturnToService=2
MinJobAge={MIN_JOB_AGE_S}
KillWait=5
InactiveLimit=0
SlurmdTimeout=120
{node_line}
PartitionName=main Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""
    )
    # Fake GPUs: character devices stand in for the device files, enough for `--gpus=1` to
    # schedule; several, so that the per-video jobs that claim one run side by side.
    (conf.parent / "gres.conf").write_text(
        "".join(f"NodeName={node} Name=gpu File={path}\n" for path in FAKE_GPU_FILES)
    )
    # No cgroup plugin is used (proctrack/linuxproc, task/none): nothing to mount or delegate.
    (conf.parent / "cgroup.conf").write_text("CgroupPlugin=autodetect\nIgnoreSystemd=yes\n")
    return conf


def _wait(what: str, ready, cluster: SlurmCluster, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n{cluster.logs_tail()}")


def _wait_no_jobs(cluster: SlurmCluster, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not cluster.run("squeue", "-h", "-t", "PENDING,RUNNING,COMPLETING", check=False).strip():
            return
        time.sleep(0.5)


def _stop(pid: int, timeout: float = 20) -> None:
    """Stop one process this fixture started: SIGTERM, then SIGKILL after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


@contextlib.contextmanager
def start_cluster() -> Iterator[SlurmCluster]:
    """Start munged, slurmctld and slurmd; yield the cluster; stop exactly those pids."""
    reason = _config_place_taken()
    if reason is not None:
        raise RuntimeError(reason)
    # Not under pytest's 0700 tmp folder: user munge must reach its own folder.
    root = Path(tempfile.mkdtemp(prefix=TMP_PREFIX))
    root.chmod(0o755)
    node = socket.gethostname().split(".")[0]
    munge_dir = root / "munge"
    munge_dir.mkdir(mode=0o700)
    munge = pwd.getpwnam("munge")
    key = munge_dir / "munge.key"
    key.write_bytes(os.urandom(1024))  # a private key: no other munged shares it
    key.chmod(0o400)
    for path in (munge_dir, key):
        os.chown(path, munge.pw_uid, munge.pw_gid)
    munge_socket = munge_dir / "munge.socket"
    conf = _write_configs(root, node, munge_socket)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for var in [v for v in env if v.startswith(("SLURM_", "SBATCH_", "SQUEUE_", "SRUN_"))]:
        if var != "SLURM_CONF":
            del env[var]  # a surrounding SLURM job or the user's defaults must not leak in
    cluster = SlurmCluster(root=root, conf=conf, node=node, partition="main", env=env)
    procs: dict[str, subprocess.Popen] = {}
    # Inside a job the SLURM plugin's jobstep drops every SLURM_* variable (SLURM_CONF too)
    # before its nested `srun`, which then looks for /etc/slurm/slurm.conf and next for
    # /run/slurm/conf/slurm.conf (where configless slurmd keeps its copy). Offer ours there,
    # only if that place is free, and take it away at the end.
    run_conf = RUN_CONF_DIR
    if run_conf.is_symlink():
        run_conf.unlink()  # left behind by a killed test session (_config_place_taken said so)
    run_conf.parent.mkdir(parents=True, exist_ok=True)
    run_conf.symlink_to(conf.parent, target_is_directory=True)

    def launch(name: str, cmd: list[str], **kwargs) -> None:
        log = open(root / "log" / f"{name}.stdout", "wb")  # noqa: SIM115 (closed below)
        procs[name] = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, **kwargs
        )
        log.close()
        cluster.pids[name] = procs[name].pid

    def alive(name: str) -> bool:
        if procs[name].poll() is not None:
            out = (root / "log" / f"{name}.stdout").read_text(errors="replace")
            raise RuntimeError(
                f"{name} exited with {procs[name].returncode}\n{out[-3000:]}\n{cluster.logs_tail()}"
            )
        return True

    try:
        launch(
            "munged",
            [
                DAEMONS["munged"],
                "--foreground",
                "--force",
                f"--socket={munge_socket}",
                f"--key-file={key}",
                f"--pid-file={munge_dir}/munged.pid",
                f"--seed-file={munge_dir}/munged.seed",
                f"--log-file={munge_dir}/munged.log",
            ],
            user=munge.pw_uid,
            group=munge.pw_gid,
            extra_groups=[],
        )
        _wait("munged's socket", lambda: alive("munged") and munge_socket.exists(), cluster)
        launch("slurmctld", [DAEMONS["slurmctld"], "-D", "-f", str(conf)])
        _wait(
            "slurmctld to answer",
            lambda: (
                alive("slurmctld")
                and cluster.run("scontrol", "ping", timeout=10, check=False).find("UP") >= 0
            ),
            cluster,
        )
        launch("slurmd", [DAEMONS["slurmd"], "-D", "-f", str(conf)])

        def node_idle() -> bool:
            alive("slurmctld")
            alive("slurmd")
            state = cluster.run("sinfo", "-h", "-N", "-o", "%T", timeout=10, check=False)
            return state.strip().rstrip("*") == "idle"

        _wait("the node to become idle", node_idle, cluster)
        yield cluster
    finally:
        if "slurmctld" in procs and procs["slurmctld"].poll() is None:
            # Jobs left by a failed or timed-out test: cancel them so no job process outlives
            # the cluster (proctrack/linuxproc does not tie them to slurmd).
            user = pwd.getpwuid(os.getuid()).pw_name
            cluster.run("scancel", "--full", "-u", user, check=False)
            _wait_no_jobs(cluster)
        for name in ("slurmd", "slurmctld", "munged"):
            if name in procs:
                _stop(procs[name].pid)
        if run_conf.is_symlink() and run_conf.readlink() == conf.parent:
            run_conf.unlink()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A private one-node SLURM cluster with fake GPUs, for the whole session (per pytest-xdist
    worker: its tests stay in one file, test_slurm.py, which ``--dist loadfile`` keeps on one)."""
    reason = _missing_prerequisite()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"SLURM test cluster cannot start in CI: {reason}")
        pytest.skip(f"SKIPPED LOUDLY: {reason}")
    with start_cluster() as cluster:
        yield cluster
