"""Atomic, durable output writing: every artifact appears complete or not at all.

Writers create a temporary sibling (same folder, so the final rename is atomic on POSIX), fsync
its data, rename it into place and then fsync the folder. So after a writer returns, the output
survives a crash or a power loss (as far as the file system honours fsync); a crash or an error
before that leaves the previous version of the output, never a truncated one, and never touches
other outputs. A folder replaces its previous version in one step (Linux ``renameat2``
``RENAME_EXCHANGE``); where the system or the file system lacks it (NFS), two renames leave a
short window in which the folder is missing, and :func:`clean_stale` restores it after a crash
there.

Temporaries are named ``.<kind>-<target name>.<pid>[-<start>]@<host>.<8 hex><suffix>`` (kind
``tmp``, ``old``, ``txn`` or ``jnl``; ``start`` is the owner's start time on Linux), so that
:func:`clean_stale` removes exactly the leftovers of writers that died, and nothing else.
:func:`atomic_dir` cleans its parent folder every time, :func:`atomic_path` a folder at its first
write there in a process (a listing per file would make writing n files cost n^2); jobs and
commands may call :func:`clean_stale` themselves.

No writer changes the process umask: temporaries are created with the mode a plain ``open`` or
``mkdir`` gives (the kernel applies umask and default ACLs).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import logging
import os
import re
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: How old (ctime) a leftover must be before :func:`clean_stale` removes it when its owner cannot
#: be checked: written on another host (a cluster node sharing the folder) or, without /proc, by
#: a live process id that may have been reused.
STALE_AFTER_S = 7 * 24 * 3600.0

_LEFTOVER = re.compile(
    r"\.(?P<kind>tmp|old|txn|jnl)-(?P<name>.+)\.(?P<pid>\d+)(?:-(?P<start>\d+))?"
    r"@(?P<host>[A-Za-z0-9-]+)\.(?P<token>[0-9a-f]{8})(?P<suffix>.*)",
    re.DOTALL,
)
_JOURNAL_VERSION = 1
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
#: The initial PID namespace's inode (Linux): processes outside it get it in their host name.
_INITIAL_PID_NS = 0xEFFFFFFC


def _umask_by_flip() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The umask at import, for systems whose /proc/self/status has no ``Umask:`` line (not Linux,
#: Linux < 4.7): setting it for a moment is safe only here, before threads start.
_IMPORT_UMASK = _umask_by_flip()


def _umask() -> int:
    """The process umask, read without changing it (Linux), else the one read at import."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return _IMPORT_UMASK


def _host() -> str:
    """This host's name for temporaries, with the PID namespace when it is not the initial one
    (two containers may share a host name but not their process ids)."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:63] or "host"
    with contextlib.suppress(OSError):
        namespace = os.stat("/proc/self/ns/pid").st_ino
        if namespace != _INITIAL_PID_NS:
            host += f"-ns{namespace}"
    return host


def _start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot, Linux); None if it is unknown,
    -1 if the process is a zombie (dead, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):
        return -1
    return int(fields[19])


def _owner() -> str:
    pid = os.getpid()
    start = _start_ticks(pid)
    return f"{pid}-{start}" if start is not None and start >= 0 else str(pid)


def _sibling(kind: str, target: Path, suffix: str = "") -> Path:
    """A new leftover-style name next to ``target`` (see the module docstring)."""
    token = secrets.token_hex(4)
    return target.with_name(f".{kind}-{target.name}.{_owner()}@{_host()}.{token}{suffix}")


def _owner_gone(match: re.Match[str], ctime: float, now: float, host: str) -> bool:
    """Whether the writer that named a leftover is dead (or the leftover outlived the bound)."""
    if match["host"] != host:
        return now - ctime > STALE_AFTER_S
    pid = int(match["pid"])
    if pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # alive, another user's
    start = _start_ticks(pid)
    if start == -1:
        return True
    if match["start"] is not None and start is not None:
        return start != int(match["start"])  # a reused pid
    if pid == os.getpid():
        return False  # another thread of this process is writing it
    return now - ctime > STALE_AFTER_S


@functools.cache
def _libc_call(name: str) -> Callable[..., int] | None:
    """A libc function by name (Linux), None where it is missing."""
    if sys.platform != "linux":
        return None
    import ctypes

    try:
        return getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False where the call or the flag is unsupported.

    Raises:
        OSError: any other failure (names both paths).
    """
    import ctypes

    call = _libc_call("renameat2")
    if call is None:
        return False
    if call(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), ctypes.c_uint(flags)) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def _fsync_path(path: Path) -> None:
    """fsync a file or a folder by path; folders on file systems that cannot sync them pass."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    except OSError as err:
        if not (err.errno in (errno.EINVAL, errno.EBADF) and os.path.isdir(path)):
            raise
    finally:
        os.close(fd)


def _sync_tree(root: Path) -> None:
    """Make everything under ``root`` durable: one ``syncfs`` of its file system on Linux (an
    fsync per file costs about 3 ms, 30 s for a 10,000-image dataset), else an fsync each."""
    call = _libc_call("syncfs")
    if call is not None:
        import ctypes

        fd = os.open(root, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            if call(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err), str(root))
        finally:
            os.close(fd)
        return
    for folder, _, files in os.walk(root):
        for name in files:
            _fsync_path(Path(folder) / name)
        _fsync_path(Path(folder))


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created (deepest first)."""
    missing = []
    probe = folder
    while not probe.is_dir() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _sync_created(created: list[Path]) -> None:
    """fsync the parents of folders :func:`_make_parents` created (their entries)."""
    for made in created:
        _fsync_path(made.parent)


def _new_file(path: Path) -> int:
    """Create an empty file (mode as ``open`` gives it); return its inode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        return os.fstat(fd).st_ino
    finally:
        os.close(fd)


def _settle(path: Path, inode: int, *, sync: bool = True) -> None:
    """Give ``path`` normal permissions if the caller replaced it (a library that wrote its own
    ``mkstemp`` file, mode 0600, and renamed it there), then fsync it (``sync``)."""
    info = os.stat(path)
    if info.st_ino != inode:
        base = 0o777 if os.path.isdir(path) else 0o666
        os.chmod(path, base & ~_umask())
    if not sync:
        return
    if os.path.isdir(path):
        _sync_tree(path)
    else:
        _fsync_path(path)


def _in_own_temp_folder(path: Path) -> bool:
    """Whether ``path`` lies in a temporary folder of this process (an :func:`atomic_dir` being
    filled, which syncs all of it before its swap)."""
    owner = None
    for parent in path.parents:
        match = _LEFTOVER.fullmatch(parent.name) if parent.name.startswith(".tmp-") else None
        if match is not None:
            owner = owner or f"{_owner()}@{_host()}"
            start = f"-{match['start']}" if match["start"] is not None else ""
            if f"{match['pid']}{start}@{match['host']}" == owner:
                return True
    return False


def _remove(path: Path) -> None:
    """Remove a file or a folder tree; a missing path passes."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


#: Per-process memo of :func:`_clean_once`: :func:`atomic_path` scans a folder for leftovers at
#: its first write there only, so writing n files into one folder costs n writes, not n listings.
_CLEANED: set[str] = set()


def _clean_once(folder: Path) -> None:
    key = os.path.abspath(folder)
    if key not in _CLEANED:
        clean_stale(folder)
        _CLEANED.add(key)


def clean_stale(folder: str | os.PathLike[str]) -> list[str]:
    """Finish or remove what writers that died left in ``folder``.

    Only names of this module's pattern are touched, and only when their writer is dead (same
    host: its process is gone or its pid was reused; another host, or no /proc: the leftover is
    older than :data:`STALE_AFTER_S`): a commit journal (``.jnl-*``) of :func:`atomic_files`
    is rolled forward; a folder moved aside by :func:`atomic_dir` (``.old-*``) is restored where
    its target is missing and removed otherwise; temporaries (``.tmp-*``, ``.txn-*`` that no
    remaining journal names) are removed. Safe to call while other processes write there.

    Args:
        folder: the folder to clean (a missing folder passes).

    Returns:
        The names acted on, in order.
    """
    folder = Path(folder)
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    now, host = time.time(), _host()
    stale: dict[str, re.Match[str]] = {}
    live_journals = []
    for name in names:
        if not name.startswith((".tmp-", ".old-", ".txn-", ".jnl-")):
            continue
        match = _LEFTOVER.fullmatch(name)
        if match is None:
            continue
        try:
            ctime = os.lstat(folder / name).st_ctime
        except FileNotFoundError:
            continue
        if _owner_gone(match, ctime, now, host):
            stale[name] = match
        elif match["kind"] == "jnl":
            live_journals.append(name)
    done = []
    for name in [n for n, m in stale.items() if m["kind"] == "jnl"]:
        if _roll_forward(folder / name):
            done.append(name)
        else:
            live_journals.append(name)  # unreadable: keep what it names
    pending = set()
    for name in live_journals:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            pending |= {staged for staged, _ in _journal_moves(folder / name)}
    for name, match in stale.items():
        path = folder / name
        if match["kind"] == "jnl" or name in pending or not os.path.lexists(path):
            continue
        target = folder / match["name"]
        if match["kind"] == "old" and _rename_noreplace(path, target):
            _fsync_path(folder)
            log.warning("%s: restored from %s (a write died replacing it)", target, name)
            done.append(name)
            continue
        _remove(path)
        done.append(name)
    if done:
        log.info("%s: cleaned what dead writers left: %s", folder, done)
    return done


def _rename_noreplace(src: Path, dst: Path) -> bool:
    """Rename ``src`` to ``dst`` unless ``dst`` exists (then False)."""
    try:
        if _renameat2(src, dst, _RENAME_NOREPLACE):
            return True
    except FileExistsError:
        return False
    except FileNotFoundError:
        return False  # another cleaner was first
    if os.path.lexists(dst):
        return False
    try:
        os.rename(src, dst)
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a new empty temporary file next to ``target``; move it to ``target`` on success.

    On success the file's data is fsynced before the rename and the folder after it, so
    ``target`` is durable when the block has ended (inside a folder an :func:`atomic_dir` of
    this process is filling, the fsyncs are left to it: it syncs the folder before its swap,
    and nothing there is visible before). On an exception (a full disk, a kill
    signal turned into an exception) the temporary is removed and ``target`` keeps its previous
    content; after a SIGKILL or a power loss ``target`` is the previous or the new version,
    never a part, and the temporary left behind is removed by the next write into the folder.

    Args:
        target: the final file path (its folder is created).
        suffix: suffix of the temporary file (defaults to the target's, so libraries that pick
            a format from the extension, such as PyAV or OpenCV, still do the right thing).

    Yields:
        The path to write to.
    """
    target = Path(target)
    sync = not _in_own_temp_folder(target)
    created = _make_parents(target.parent)
    if sync:
        _clean_once(target.parent)
    tmp = _sibling("tmp", target, suffix if suffix is not None else target.suffix)
    inode = _new_file(tmp)
    try:
        yield tmp
        _settle(tmp, inode, sync=sync)
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    if sync:
        _fsync_path(target.parent)
        _sync_created(created)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new empty temporary folder next to ``target``; swap it into place on success.

    Everything in the folder is made durable before the swap, and the parent folder after it.
    An existing ``target`` (folder or file) is exchanged with the new folder in one step
    (``renameat2(RENAME_EXCHANGE)``, Linux >= 3.15 with glibc >= 2.28, on local file systems),
    so readers and crashes see the old or the new folder, never neither; then the old one is
    removed. Where the exchange is unsupported (other systems, NFS), ``target`` is renamed aside
    to ``.old-*`` and the new folder renamed in: a crash between the two leaves ``target``
    missing, and :func:`clean_stale` restores it (run by the next ``atomic_dir`` into the parent
    folder, or the first write there of the next process).
    On an exception the temporary folder is removed and ``target`` is left untouched.

    Args:
        target: the final folder path (its parent is created).

    Yields:
        The folder to fill.
    """
    target = Path(target)
    created = _make_parents(target.parent)
    clean_stale(target.parent)
    tmp = _sibling("tmp", target)
    tmp.mkdir(0o777)
    inode = os.stat(tmp).st_ino
    try:
        yield tmp
        _settle(tmp, inode)
        _swap_in(tmp, target)
    finally:
        _remove(tmp)  # the new folder after a failure, the old one after an exchange
    _sync_created(created)


def _swap_in(tmp: Path, target: Path) -> None:
    """Put folder ``tmp`` at ``target`` durably (the parent is fsynced before the old version
    is removed); an existing target ends up at ``tmp`` (exchange) or is removed (fallback)."""
    if not os.path.lexists(target):
        os.replace(tmp, target)
    elif not _renameat2(tmp, target, _RENAME_EXCHANGE):
        old = _sibling("old", target)
        os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            os.replace(old, target)
            raise
        _fsync_path(target.parent)
        _remove(old)
        return
    _fsync_path(target.parent)


@contextlib.contextmanager
def atomic_files(*targets: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """Yield a temporary path per target (files of one folder); commit them all or none.

    The commit writes a durable journal naming each temporary and its target, renames them
    into place, fsyncs the folder and removes the journal. Up to the journal nothing of the
    targets has changed (an exception removes the temporaries); once it exists the commit is
    decided: a crash during the renames leaves some targets new and some old, and
    :func:`clean_stale` (the next write into the folder, or a caller) finishes the renames.
    Readers that must not see that mixed state call :func:`clean_stale` on the folder first.

    Args:
        targets: the final file paths, all in one folder, distinct.

    Yields:
        The temporary paths, in the order of ``targets``; write each completely (replacing
        it, as the writers of this module do, is fine).

    Raises:
        ValueError: targets in several folders, or one named twice.
    """
    paths = [Path(t) for t in targets]
    folders = {p.parent for p in paths}
    if len(folders) != 1 or len({p.name for p in paths}) != len(paths):
        raise ValueError(f"atomic_files: distinct files of one folder expected, got {paths}")
    folder = folders.pop()
    created = _make_parents(folder)
    clean_stale(folder)
    staged = [_sibling("txn", p, p.suffix) for p in paths]
    inodes = []
    journal = None
    try:
        for path in staged:
            inodes.append(_new_file(path))
        yield staged
        for path, inode in zip(staged, inodes, strict=True):
            _settle(path, inode)
        journal = _sibling("jnl", paths[0], ".json")
        moves = [[s.name, p.name] for s, p in zip(staged, paths, strict=True)]
        write_json(journal, {"version": _JOURNAL_VERSION, "moves": moves})
    except BaseException:
        for path in staged:
            _remove(path)
        if journal is not None:
            _remove(journal)
        raise
    if not _roll_forward(journal):
        raise OSError(f"{journal}: commit journal unreadable after writing it")
    _sync_created(created)


def _journal_moves(journal: Path) -> list[tuple[str, str]]:
    record = read_json(journal)
    if record.get("version") != _JOURNAL_VERSION:
        raise ValueError(f"{journal}: not a commit journal of version {_JOURNAL_VERSION}")
    moves = [(str(s), str(t)) for s, t in record["moves"]]
    for staged, target in moves:
        if "/" in staged or "/" in target or not staged.startswith(".txn-"):
            raise ValueError(f"{journal}: a move outside its folder: {staged} -> {target}")
    return moves


def _roll_forward(journal: Path) -> bool:
    """Finish the commit a journal records; False (with a warning) if it is unreadable."""
    try:
        moves = _journal_moves(journal)
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("%s: commit journal left in place: %s", journal, err)
        return False
    for staged, target in moves:
        with contextlib.suppress(FileNotFoundError):  # moved before the crash
            os.replace(journal.parent / staged, journal.parent / target)
    _fsync_path(journal.parent)
    journal.unlink(missing_ok=True)  # a journal that survives a crash is rolled forward again
    return True


class LockHeldError(OSError):
    """Another process holds a folder's lock; the message names the lock and its holder."""


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], purpose: str) -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (``<folder>/.mosaicflow.lock``) or fail at once.

    The lock is a ``filelock.FileLock`` (``flock``, released by the kernel when its process
    dies, so a killed holder leaves no stale lock). ``.mosaicflow.lock.json`` records the
    holder (pid, host, purpose, since) for the error message of the next one.

    Args:
        folder: the folder whose writers exclude each other (created if missing).
        purpose: what the holder does, for the message (``mosaicflow review import``).

    Yields:
        The lock file.

    Raises:
        LockHeldError: the lock is held (by this or another process).
    """
    from filelock import FileLock, Timeout

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock_file = folder / ".mosaicflow.lock"
    record = folder / ".mosaicflow.lock.json"
    lock = FileLock(lock_file)
    try:
        lock.acquire(timeout=0)
    except Timeout as err:
        raise LockHeldError(f"{lock_file}: locked by {_holder(record)}; try again when it has "
                            "finished") from err  # fmt: skip
    try:
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        write_json(record, {"pid": os.getpid(), "host": socket.gethostname(),
                            "purpose": purpose, "since": since})  # fmt: skip
        yield lock_file
    finally:
        with contextlib.suppress(OSError):
            record.unlink()
        lock.release()


def _holder(record: Path) -> str:
    """The holder a lock record names, or 'another process (unknown)'."""
    try:
        info = read_json(record)
        return f"{info['purpose']} (pid {info['pid']} on {info['host']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (unknown)"


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically and durably (see :func:`atomic_path`)."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically and durably."""
    write_bytes(target, text.encode("utf-8"))


def json_text(obj: Any) -> str:
    """``obj`` as stable, indented, key-sorted JSON text (identical for equal objects)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as stable, indented, key-sorted JSON (byte-identical for equal objects),
    atomically and durably."""
    write_text(target, json_text(obj))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file, naming the file in the error if it is not UTF-8 text or is malformed
    (bad syntax, nesting too deep to parse)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 JSON ({err})") from err
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{path}: malformed JSON ({err})") from err


def load_yaml(text: str) -> Any:
    """Parse YAML safely, with libyaml's C parser where PyYAML has it (ten times faster)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def write_parquet(target: str | os.PathLike[str], frame: Any) -> None:
    """Write a pandas DataFrame to parquet atomically and durably, without the pandas index.

    Parquet files are written without wall-clock metadata so equal frames give equal bytes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def save_torch(obj: Any, target: str | os.PathLike[str]) -> Path:
    """``torch.save`` to ``target`` atomically, durably and byte-reproducibly.

    torch names the archive's records after a path's stem, so saving to the temporary file's
    path would put its random name into the bytes; a file object gives a fixed name.
    """
    import torch

    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        torch.save(obj, handle)
    return Path(target)
