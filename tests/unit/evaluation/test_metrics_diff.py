"""``mosaicflow metrics-diff``: flattened keys, changes, added/removed keys, % of a zero."""

from __future__ import annotations

import json

import pytest

from mosaicflow.cli import main
from mosaicflow.evaluation.metrics_diff import diff_metrics, flatten, format_table

OLD = {
    "evaluate": {"psnr_mask": 20.0, "recall": 0.5, "videos": [{"frames": 10}]},
    "detector": {"map50": 0.0, "name": "yolo"},
    "removed": 1,
    "same": 3,
}
NEW = {
    "evaluate": {"psnr_mask": 22.0, "recall": 0.5, "videos": [{"frames": 12}]},
    "detector": {"map50": 0.25, "name": "yolo2"},
    "added": {"x": True},
    "same": 3,
}


def test_flatten_uses_dotted_keys_and_list_indices():
    assert flatten({"a": {"b": [1, {"c": 2}]}, "e": {}}) == {"a.b.0": 1, "a.b.1.c": 2, "e": {}}


def test_diff_lists_changes_with_percent_and_added_and_removed_keys():
    rows = {row.key: row for row in diff_metrics(OLD, NEW)}
    assert set(rows) == {
        "evaluate.psnr_mask",
        "evaluate.videos.0.frames",
        "detector.map50",
        "detector.name",
        "removed",
        "added.x",
    }
    assert rows["evaluate.psnr_mask"].change == pytest.approx(2.0)
    assert rows["evaluate.psnr_mask"].percent == pytest.approx(10.0)
    assert rows["evaluate.videos.0.frames"].percent == pytest.approx(20.0)
    zero = rows["detector.map50"]
    assert zero.change == pytest.approx(0.25) and zero.percent is None  # % of 0 is undefined
    assert rows["detector.name"].change is None and rows["detector.name"].status == "changed"
    assert rows["removed"].status == "removed" and rows["removed"].new is None
    assert rows["added.x"].status == "added" and rows["added.x"].change is None
    assert len(diff_metrics(OLD, NEW, show_all=True)) == len(rows) + 2


def test_table_shows_signs_percent_and_dashes():
    table = format_table(diff_metrics(OLD, NEW)).splitlines()
    assert table[0].split() == ["Metric", "Old", "New", "Change", "%"]
    line = {row.split()[0]: row.split()[1:] for row in table[1:]}
    assert line["evaluate.psnr_mask"] == ["20", "22", "+2", "+10.00%"]
    assert line["detector.map50"] == ["0", "0.25", "+0.25", "-"]
    assert line["removed"] == ["1", "-", "-", "-"]
    assert line["added.x"] == ["-", "True", "-", "-"]


def test_command_prints_the_table_and_names_a_bad_file(tmp_path, capsys):
    old, new = tmp_path / "a.json", tmp_path / "b.json"
    old.write_text(json.dumps(OLD))
    new.write_text(json.dumps(NEW))
    assert main(["metrics-diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "evaluate.psnr_mask" in out and "+10.00%" in out and "same" not in out
    assert main(["metrics-diff", str(old), str(old)]) == 0
    assert "no metric changed" in capsys.readouterr().out
    assert main(["metrics-diff", "--json", str(old), str(new)]) == 0
    assert {r["key"] for r in json.loads(capsys.readouterr().out)} >= {"removed", "added.x"}
    new.write_text("{broken")
    assert main(["metrics-diff", str(old), str(new)]) == 2
    assert str(new) in capsys.readouterr().err


def test_an_undefined_metric_that_stays_undefined_is_no_change(tmp_path, capsys):
    old, new = tmp_path / "a.json", tmp_path / "b.json"
    old.write_text('{"detector": {"map50": NaN, "recall": 0.5}}')
    new.write_text('{"detector": {"map50": NaN, "recall": 0.6}}')
    assert main(["metrics-diff", str(old), str(old)]) == 0
    assert "no metric changed" in capsys.readouterr().out
    assert main(["metrics-diff", "--json", "--all", str(old), str(new)]) == 0
    rows = json.loads(capsys.readouterr().out)  # strict JSON: NaN is null
    assert {r["key"]: r["old"] for r in rows} == {"detector.map50": None, "detector.recall": 0.5}


def test_bad_options_and_files_are_named(tmp_path, capsys):
    old = tmp_path / "a.json"
    old.write_text(json.dumps(OLD))
    assert main(["metrics-diff", str(old), str(old), "--precision", "0"]) == 2
    assert "--precision 0" in capsys.readouterr().err
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00")
    assert main(["metrics-diff", str(old), str(binary)]) == 2
    assert f"{binary}: not UTF-8 JSON" in capsys.readouterr().err
