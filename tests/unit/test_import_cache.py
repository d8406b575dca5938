"""The imports cache of code hashing: an entry is found by content, never stale, and a broken or
unwritable cache changes nothing but the speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mosaicflow.plan import codehash
from mosaicflow.plan.import_cache import CACHE_DIR_ENV, ImportsCache, cache_folder

ROOT = Path(__file__).resolve().parents[2]


def _reader(names: set[str], calls: list[int]):
    def read() -> set[str]:
        calls.append(1)
        return set(names)

    return read


def test_a_saved_entry_is_read_back_without_parsing_and_an_edit_is_read_afresh(tmp_path):
    module = tmp_path / "mod.py"
    module.write_text("import mosaicflow.a\n")
    file = tmp_path / "cache" / "imports-v1.json"
    calls: list[int] = []
    first = ImportsCache(file)
    assert first.names(module, "mosaicflow.mod", module.read_bytes(), _reader({"x"}, calls)) == {
        "x"
    }
    first.save()
    assert file.is_file() and len(calls) == 1

    second = ImportsCache(file)  # another process
    source = module.read_bytes()
    assert second.names(module, "mosaicflow.mod", source, _reader({"y"}, calls)) == {"x"}
    assert len(calls) == 1
    # the same bytes as another module or as a package's __init__.py are other entries
    init = tmp_path / "__init__.py"
    init.write_bytes(source)
    assert second.names(module, "mosaicflow.other", source, _reader({"z"}, calls)) == {"z"}
    assert second.names(init, "mosaicflow.mod", source, _reader({"w"}, calls)) == {"w"}
    module.write_text("import mosaicflow.b\n")
    assert second.names(module, "mosaicflow.mod", module.read_bytes(), _reader({"v"}, calls)) == {
        "v"
    }
    assert len(calls) == 4


def test_saves_one_after_another_keep_both_entries(tmp_path):
    file = tmp_path / "imports-v1.json"
    one, two = ImportsCache(file), ImportsCache(file)
    one.names(Path("a.py"), "mosaicflow.a", b"a", lambda: {"from-a"})
    two.names(Path("b.py"), "mosaicflow.b", b"b", lambda: {"from-b"})
    one.save()
    two.save()
    assert sorted(json.loads(file.read_text()).values()) == [["from-a"], ["from-b"]]


def test_a_corrupt_cache_is_read_as_empty_and_replaced(tmp_path):
    file = tmp_path / "imports-v1.json"
    file.write_text("{not json")
    cache = ImportsCache(file)
    assert cache.entries == {}
    cache.names(Path("a.py"), "mosaicflow.a", b"a", lambda: {"n"})
    cache.save()
    assert list(json.loads(file.read_text()).values()) == [["n"]]
    file.write_text(json.dumps({"k": "not a list", "j": [1]}))
    assert ImportsCache(file).entries == {}
    file.write_text("[" * 100_000 + "]" * 100_000)  # deeper than the JSON parser recurses
    assert ImportsCache(file).entries == {}


def test_another_user_s_cache_file_is_not_trusted(tmp_path, monkeypatch):
    file = tmp_path / "imports-v1.json"
    cache = ImportsCache(file)
    cache.names(Path("a.py"), "mosaicflow.a", b"a", lambda: {"n"})
    umask = os.umask(0o022)
    try:
        cache.save()  # a file of the usual mode, readable in a shared folder
    finally:
        os.umask(umask)
    assert ImportsCache(file).entries and file.stat().st_mode & 0o777 == 0o644
    monkeypatch.setattr(os, "getuid", lambda: file.stat().st_uid + 1)
    assert ImportsCache(file).entries == {}


def test_an_unwritable_cache_folder_is_no_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = ImportsCache(blocker / "cache" / "imports-v1.json")  # a folder under a file
    assert cache.names(Path("a.py"), "mosaicflow.a", b"a", lambda: {"n"}) == {"n"}
    cache.save()
    assert cache.added == 1  # nothing was written, and nothing was raised


def test_the_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "mine"))
    assert cache_folder() == tmp_path / "mine"
    monkeypatch.delenv(CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "mosaicflow"


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "unwritable"])
def test_code_hashes_are_the_same_with_a_warm_cache_and_without_one(tmp_path, cached):
    scripts = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
    expected = {script.name: codehash.script_code_hash(script) for script in scripts}
    folder = tmp_path / "cache" if cached else tmp_path / "file"
    if not cached:
        folder.write_text("")  # a file where the folder should be
    # with "forbid", a module parsed instead of read from the cache fails the run
    program = (
        "import json, sys; from pathlib import Path\n"
        "from mosaicflow.plan import codehash\n"
        "if sys.argv[1] == 'forbid':\n"
        "    def parse(*args): raise AssertionError(f'parsed {args[0]}')\n"
        "    codehash.imported_modules = parse\n"
        "print(json.dumps({Path(p).name: codehash.script_code_hash(p) for p in sys.argv[2:]}))\n"
    )
    env = {"PATH": "/usr/bin:/bin", CACHE_DIR_ENV: str(folder)}
    for mode in ("parse", "forbid" if cached else "parse"):
        out = subprocess.run(
            [sys.executable, "-c", program, mode, *map(str, scripts)],
            capture_output=True, text=True, check=True, env=env,
        ).stdout  # fmt: skip
        assert json.loads(out) == expected
    files = list(folder.glob("imports-*.json")) if folder.is_dir() else []
    assert len(files) == (1 if cached else 0)
