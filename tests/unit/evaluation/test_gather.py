"""results/metrics.json: every stage under its name, the hashes, clear errors."""

from __future__ import annotations

import json

import pytest

from mosaicflow.evaluation.gather import gather_metrics
from mosaicflow.evaluation.metrics_diff import diff_metrics


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def test_gather_writes_every_stage_and_the_hashes(tmp_path):
    stages = {
        "detector": _write(tmp_path / "metrics" / "detector.json", {"test": {"mask_map50": 0.9}}),
        "evaluate": _write(
            tmp_path / "metrics" / "evaluate.json", {"total": {"restored": {"psnr_mask": 25.0}}}
        ),
        "detection_dataset": tmp_path / "detection_dataset",
    }
    _write(
        tmp_path / "detection_dataset" / "provenance.json",
        {"counts": {"train_images": 8}, "config_hash": "c", "code_hash": "k", "inputs": {}},
    )
    out = tmp_path / "metrics.json"
    gathered = gather_metrics(stages, out, config_hash="cfg123", code_hash="code456")
    assert json.loads(out.read_text()) == gathered
    assert gathered["config_hash"] == "cfg123" and gathered["code_hash"] == "code456"
    assert gathered["version"] == 1
    assert gathered["detector"] == {"test": {"mask_map50": 0.9}}
    assert gathered["evaluate"]["total"]["restored"]["psnr_mask"] == 25.0
    assert gathered["detection_dataset"] == {
        "counts": {"train_images": 8},
        "config_hash": "c",
        "code_hash": "k",
    }
    # metrics-diff reads it key by key
    other = dict(gathered, evaluate={"total": {"restored": {"psnr_mask": 27.5}}})
    changes = {c.key: c for c in diff_metrics(gathered, other)}
    assert changes["evaluate.total.restored.psnr_mask"].change == pytest.approx(2.5)


def test_gather_fails_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"missing\.json"):
        gather_metrics(
            {"x": tmp_path / "missing.json"}, tmp_path / "m.json", config_hash="a", code_hash="b"
        )
    bad = _write(tmp_path / "list.json", [1, 2])
    with pytest.raises(ValueError, match=r"list\.json"):
        gather_metrics({"x": bad}, tmp_path / "m.json", config_hash="a", code_hash="b")
    (tmp_path / "dataset").mkdir()
    with pytest.raises(ValueError, match=r"provenance\.json"):
        gather_metrics(
            {"d": tmp_path / "dataset"}, tmp_path / "m.json", config_hash="a", code_hash="b"
        )
    with pytest.raises(ValueError, match="clash"):
        gather_metrics({"version": bad}, tmp_path / "m.json", config_hash="a", code_hash="b")
    assert not (tmp_path / "m.json").exists()


def test_run_hashes_follow_the_config():
    from mosaicflow.evaluation.gather import run_hashes

    config, code = run_hashes({"seed": 1, "evaluate": {"roles": ["test"]}})
    assert run_hashes({"evaluate": {"roles": ["test"]}, "seed": 1}) == (config, code)
    assert run_hashes({"seed": 2, "evaluate": {"roles": ["test"]}})[0] != config
    assert len(code) == 12
    # a speed setting is not part of the run's identity
    slow, fast = ({"seed": 1, "frames": {"decode_threads": n}} for n in (1, 8))
    assert run_hashes(slow)[0] == run_hashes(fast)[0]


def test_run_hashes_name_shipped_files_by_content(tmp_path, monkeypatch):
    from mosaicflow import installed
    from mosaicflow.evaluation.gather import run_hashes

    hashes = []
    for checkout in ("a", "b"):
        root = tmp_path / checkout
        (root / "resources").mkdir(parents=True)
        (root / "resources" / "w.pth").write_bytes(b"weights")
        monkeypatch.setattr(installed, "REPO_ROOT", root)
        monkeypatch.setattr(installed, "RESOURCES", root / "resources")
        config = {"restoration": {"init_weights": str(root / "resources" / "w.pth")}}
        hashes.append(run_hashes(config)[0])
    assert hashes[0] == hashes[1]
