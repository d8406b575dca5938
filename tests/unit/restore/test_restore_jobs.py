"""The restoration rules' entry points on a tiny clip dataset: each job reads only its keys,
stage 1 -> convert -> stage 2 -> export, work folders per settings and data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mosaicflow.config import build
from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.datasets.clips.config import SplitConfig
from mosaicflow.datasets.clips.index import build_index
from mosaicflow.io import read_json
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.restore.config import JOBS, Stage1Job, job_of, job_params
from mosaicflow.restore.jobs import (
    clip_sets,
    data_hash,
    run_convert,
    run_export,
    run_stage,
    stage_identity,
    work_dir,
)
from mosaicflow.restore.models import build_generator
from tests.unit.datasets.conftest import full_config, make_cfg, make_source, mosaic_cfg

TINY_STAGE = {"iterations": 2, "batch_size": 1, "num_frames": 3, "size": 32,
              "checkpoint_every": 1, "val_every": 2}  # fmt: skip


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clip index with two videos: one train, one val."""
    root = tmp_path_factory.mktemp("clips")
    cfg = make_cfg(min_seconds=0.5, max_seconds=1.0, stride_seconds=1.0, out_size=32,
                   max_clips_per_video=2)  # fmt: skip
    for k, vid in enumerate(("train-0000aaaa", "val-0000bbbb")):
        src = make_source(root / f"src{k}", n=12, seed=k)
        build_video_clips(src.video, src.index, src.regions, root, cfg, mosaic_cfg=mosaic_cfg(),
                          video_id=vid, seed=1, code="x")  # fmt: skip
    out = root / "index.parquet"
    roles = {"train-0000aaaa": "train", "val-0000bbbb": "val"}
    build_index(sorted((root / "videos").glob("*.json")), out, SplitConfig(0.0, 0.0), seed=1,
                roles=roles)  # fmt: skip
    return out


def section(**stage: object) -> dict:
    restoration = {
        "mid_channels": 8,
        "num_blocks": 1,
        "num_workers": 0,
        "init_weights": "random",
        "stage1": {**TINY_STAGE, **stage},
        "stage2": {**TINY_STAGE, "disc_mid_channels": 8},
    }
    return full_config(restoration=restoration)["restoration"]


def job(name: str, restoration: dict):
    """The typed job of ``name`` as its rule's script builds it from its params."""
    return job_of(name, job_params(restoration, name))


def test_each_job_reads_only_its_keys():
    base = section()
    changed = {**base, "stage2": {**base["stage2"], "lr": 1e-3}, "vgg19_weights": "x.pth"}
    assert job_params(base, "stage1") == job_params(changed, "stage1")
    assert job_params(base, "stage2") != job_params(changed, "stage2")
    job = job_of("stage1", job_params(base, "stage1"))
    assert isinstance(job, Stage1Job) and not hasattr(job, "stage2")
    assert job.stage1.iterations == 2 and job.mid_channels == 8
    convert = job_params(changed, "convert")
    assert convert["stage2_disc_mid_channels"] == base["stage2"]["disc_mid_channels"]
    with pytest.raises(ValueError, match="unknown restoration job"):
        job_params(base, "stage3")
    # the worker count is a speed setting: no job's params hold it
    faster = {**base, "num_workers": 4}
    assert all(job_params(base, job) == job_params(faster, job) for job in JOBS)


def test_a_typed_job_is_keyed_by_exactly_its_rule_params():
    from mosaicflow import installed
    from mosaicflow.restore.config import job_settings

    demo = full_config()["restoration"]
    assert Path(demo["init_weights"]).is_file()  # the shipped restorer base
    for name in JOBS:
        params = job_params(demo, name)
        if params.get("init_weights"):  # as the plan hands a shipped file to the rule
            params["init_weights"] = installed.reference(params["init_weights"])
        typed = job_of(name, params)
        if name == "stage1":
            assert typed.init_weights == demo["init_weights"]  # the job gets the path
        assert job_settings(typed) == params  # its work folder and card keep the reference


def test_clip_sets_split_train_and_val(index: Path):
    mosaic = build(MosaicConfig, full_config()["mosaic"])
    train, val = clip_sets(index, mosaic, 3, 32, seed=5)
    assert len(train) >= 1 and len(val) >= 1
    assert set(train.rows["split"]) == {"train"} and set(val.rows["split"]) == {"val"}
    a, b = val[0], val[0]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))  # repeatable validation
    assert a[0].shape == (3, 3, 32, 32) and a[2].shape == (3, 1, 32, 32)


def test_no_train_clips_is_a_clear_error(index: Path, tmp_path: Path):
    import pandas as pd

    frame = pd.read_parquet(index)
    frame["split"] = "val"
    bad = index.parent / "only_val.parquet"
    frame.to_parquet(bad)
    with pytest.raises(ValueError, match=r"only_val\.parquet: no kept clips in the train split"):
        clip_sets(bad, build(MosaicConfig, full_config()["mosaic"]), 3, 32, seed=5)


def test_stages_convert_and_export_chain(index: Path, tmp_path: Path):
    torch.set_num_threads(1)
    restoration, mosaic = section(), build(MosaicConfig, full_config()["mosaic"])
    s1 = run_stage(job("stage1", restoration), mosaic, index,
                   tmp_path / "s1.pth", tmp_path / "s1.json", tmp_path / "work", seed=3,
                   device="cpu")  # fmt: skip
    assert s1.iterations == 2 and s1.validation
    assert read_json(tmp_path / "s1.json") == s1.to_dict()
    init = run_convert(job("convert", restoration), tmp_path / "s1.pth",
                       tmp_path / "init.pth", seed=3)  # fmt: skip
    s2 = run_stage(job("stage2", restoration), mosaic, index,
                   tmp_path / "s2.pth", tmp_path / "s2.json", tmp_path / "work", seed=3,
                   device="cpu", init=init)  # fmt: skip
    assert any("perceptual" in note for note in s2.notes)  # no VGG19 weights: said loudly
    exported = run_export(job("export", restoration), tmp_path / "s2.pth",
                      tmp_path / "gen.pth", tmp_path / "model.json",
                      stage1_metrics=tmp_path / "s1.json", stage2_metrics=tmp_path / "s2.json",
                      index_parquet=index, code="c0de")  # fmt: skip
    card = exported.card
    assert card["iterations"] == {"stage1": 2, "stage2": 2}
    assert card["data_hash"] == data_hash(index) and card["code_hash"] == "c0de"
    assert (exported.card_path, exported.weights) == (tmp_path / "model.json", tmp_path / "gen.pth")
    assert read_json(exported.card_path) == card
    assert exported.final_validation == s2.validation[-1] and exported.notes == s2.notes
    net = build_generator(job("export", restoration))
    net.load_state_dict(torch.load(tmp_path / "gen.pth", weights_only=True), strict=True)
    folders = sorted(p.name.split("-")[0] for p in (tmp_path / "work").iterdir())
    assert folders == ["stage1", "stage2"]


def test_work_folder_changes_with_settings_and_data():
    def folder(params, data, **depends):
        return work_dir(Path("w"), "stage1", stage_identity(params, 3, data, **depends))

    a = folder({"lr": 1}, "d1")
    assert a == folder({"lr": 1}, "d1") and a.name.startswith("stage1-")
    assert a != folder({"lr": 2}, "d1")
    assert a != folder({"lr": 1}, "d2")
    assert a != folder({"lr": 1}, "d1", code="c0de")
    assert a.parent == Path("w") and a.name.startswith("stage1-")


def test_a_code_change_trains_afresh_instead_of_resuming(index: Path, tmp_path: Path):
    torch.set_num_threads(1)
    restoration, mosaic = section(), build(MosaicConfig, full_config()["mosaic"])
    for code in ("old", "new", "new"):
        run_stage(job("stage1", restoration), mosaic, index,
                  tmp_path / f"{code}.pth", tmp_path / f"{code}.json", tmp_path / "work", seed=3,
                  device="cpu", code=code)  # fmt: skip
    assert len(list((tmp_path / "work").iterdir())) == 2  # same code: the same folder
