"""Atomic writes: a failed write leaves the previous output intact and no partial file."""

from __future__ import annotations

import pandas as pd
import pytest

from mosaicflow.io import atomic_dir, atomic_path, read_json, write_json, write_parquet


def test_failed_write_keeps_old_content(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("crash")
    assert read_json(target) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_dir_swaps_complete_folders_only(tmp_path):
    target = tmp_path / "ds"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("2")
        raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_json_and_parquet_are_byte_stable(tmp_path):
    write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    write_json(tmp_path / "b.json", {"a": [1, 2], "b": 1})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    frame = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    write_parquet(tmp_path / "a.parquet", frame)
    write_parquet(tmp_path / "b.parquet", frame)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_malformed_json_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ValueError, match=r"bad\.json: malformed JSON"):
        read_json(bad)


def test_outputs_get_normal_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {})
        with atomic_dir(tmp_path / "d") as tmp:
            (tmp / "x").write_text("1")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def test_save_torch_gives_the_same_bytes_under_any_name(tmp_path):
    import torch

    from mosaicflow.io import save_torch

    state = {"w": torch.arange(6.0).reshape(2, 3)}
    a, b = save_torch(state, tmp_path / "a.pth"), save_torch(state, tmp_path / "b" / "c.pth")
    assert a.read_bytes() == b.read_bytes()
    assert torch.equal(torch.load(a, weights_only=True)["w"], state["w"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pth", "b"]  # no temporary left
