"""The configuration's first gate on checkpoints: the globals a pickle names, read statically."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from mosaicflow.config import ConfigError, validate_config
from mosaicflow.picklescan import (
    UNRESOLVED,
    NotATorchArchive,
    allowed_global,
    foreign_globals,
    pickle_globals,
)
from tests.unit.crafted import GLOBALS, crafted_checkpoint, payload

REPO = Path(__file__).resolve().parents[2]


def test_a_state_dict_and_a_model_name_only_allowed_globals(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    torch.save(model.state_dict(), tmp_path / "state.pth")
    torch.save({"model": model, "epoch": 3, "note": {1, 2}}, tmp_path / "model.pt")
    assert foreign_globals(tmp_path / "state.pth") == []
    assert foreign_globals(tmp_path / "model.pt") == []
    names = pickle_globals(_data_pkl(tmp_path / "model.pt"))
    assert "torch.nn.modules.container.Sequential" in names
    assert "torch._utils._rebuild_tensor_v2" in names


@pytest.mark.parametrize("kind", sorted(GLOBALS))
def test_a_crafted_checkpoint_names_the_global_that_runs_code(tmp_path, kind):
    marker = tmp_path / "marker"
    path = crafted_checkpoint(tmp_path / "crafted.pt", marker, kind)
    assert foreign_globals(path) == [GLOBALS[kind]]
    assert not marker.exists()


def test_stack_global_names_are_read_from_literals_and_the_memo():
    # protocol 4 names globals with STACK_GLOBAL; a repeated module string comes from the memo
    data = pickle.dumps([payload("system", Path("m")), payload("system", Path("n"))], protocol=4)
    assert pickle_globals(data) == [GLOBALS["system"]]
    assert not allowed_global(GLOBALS["system"]) and not allowed_global("builtins.eval")
    assert allowed_global("builtins.set") and allowed_global("collections.OrderedDict")
    assert not allowed_global("torchvision_evil.run") and not allowed_global("os.system")


def test_a_stack_global_built_from_anything_else_is_unresolved():
    # module and name pushed, then something else in between: the scan cannot tell the names
    data = b"\x80\x04\x8c\x05posix\x8c\x06systemK\x010\x93."
    assert pickle_globals(data) == [UNRESOLVED]
    assert not allowed_global(UNRESOLVED)


def test_files_that_are_no_torch_archive_are_named(tmp_path):
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(NotATorchArchive, match=r"legacy\.pt: not a torch zip archive"):
        foreign_globals(legacy)


def test_the_configuration_refuses_a_crafted_checkpoint_before_any_job(tmp_path):
    marker = tmp_path / "marker"
    crafted = crafted_checkpoint(tmp_path / "crafted.pt", marker, "exec")
    config = {"detector": {"weights": str(crafted)}, "regions": {"pretrained": str(crafted)}}
    refused = r"'detector\.weights': .*crafted\.pt names builtins\.exec"
    with pytest.raises(ConfigError, match=refused):
        validate_config(copy.deepcopy(config))
    assert not marker.exists()


def test_a_dry_run_with_a_crafted_detector_exits_2_and_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    crafted = crafted_checkpoint(tmp_path / "crafted.pt", marker, "system")
    overlay = tmp_path / "given.yaml"
    overlay.write_text(yaml.safe_dump({"detector": {"weights": str(crafted)}}))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(tmp_path), "--cores", "1", "--configfile", str(overlay)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "config key 'detector.weights'" in proc.stderr and "posix.system" in proc.stderr
    assert not marker.exists() and not (tmp_path / "results").exists()


def _data_pkl(path: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("data.pkl")]
        return archive.read(name)
