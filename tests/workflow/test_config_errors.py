"""The workflow refuses bad configs before any job runs, naming the key (and path)."""

from __future__ import annotations

import pytest

from tests.helpers import planned_jobs, run_snakemake

pytestmark = pytest.mark.workflow


def test_default_config_plans(tmp_path):
    proc = run_snakemake(tmp_path, "-n")
    jobs = planned_jobs(proc.stdout)
    # 25 train, 1 val, 2 test, 75 label videos (labelme frames only) and 40 quality videos
    # (source-quality scenes only), 4 re-uploads
    assert jobs["render_world_video"] == 143
    assert jobs["score_quality_scenes"] == 1
    assert jobs["render_world_reupload"] == 4
    assert jobs["extract_frames"] == 28 + 4  # label videos are not source videos, copies are
    assert not (tmp_path / "results").exists()


def test_unknown_key_fails_naming_it(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("frames:\n  mpdecimate:\n    hii: 3\n")
    proc = run_snakemake(tmp_path, "-n", configfiles=[bad], check=False)
    assert proc.returncode != 0
    assert "config key 'frames.mpdecimate'" in proc.stderr + proc.stdout
    assert "'hii' was unexpected" in proc.stderr + proc.stdout


def test_missing_path_fails_naming_key_and_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"regions:\n  weights: {tmp_path}/missing.pt\n")
    proc = run_snakemake(tmp_path, "-n", configfiles=[bad], check=False)
    assert proc.returncode != 0
    assert f"config key 'regions.weights': file not found: {tmp_path}/missing.pt" in (
        proc.stderr + proc.stdout
    )


def test_a_reupload_of_an_unknown_video_fails_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("world:\n  reuploads:\n    sources: [world-val-07]\n")
    proc = run_snakemake(tmp_path, "-n", configfiles=[bad], check=False)
    assert proc.returncode != 0
    assert "config key 'world.reuploads.sources': world-val-07" in proc.stderr + proc.stdout


@pytest.mark.parametrize("section", ["detection_dataset", "restoration_dataset"])
def test_a_split_without_training_videos_fails_before_any_job(tmp_path, section):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"{section}:\n  split: {{val: 0.6, test: 0.5}}\n")
    proc = run_snakemake(tmp_path, "-n", configfiles=[bad], check=False)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"config key '{section}.split'" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


def test_the_user_s_folders_with_the_demo_kind_fail_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"source:\n  labelme_train: {tmp_path}\n")  # `kind: videos` forgotten
    proc = run_snakemake(tmp_path, "-n", configfiles=[bad], check=False)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "source.labelme_train are set but source.kind is 'demo'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ("seed: 7.0\n", "config key 'seed': 7.0 is not a whole number"),
        (  # a value a job would refuse, hours into the run
            "mosaic:\n  size_scale: [2.0, 1.0]\n",
            "config key 'mosaic.size_scale': expected [low, high] with low <= high",
        ),
    ],
)
def test_a_value_no_job_can_take_fails_before_any_job(tmp_path, overlay, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(overlay)
    proc = run_snakemake(tmp_path, "-n", configfiles=[bad], check=False)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_cuda_device_this_machine_lacks_fails_before_the_first_job(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    bad = tmp_path / "bad.yaml"
    bad.write_text("device: cuda\n")
    assert run_snakemake(tmp_path, "-n", configfiles=[bad], check=False).returncode == 0
    proc = run_snakemake(tmp_path, configfiles=[bad], check=False)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "config key 'device': 'cuda', but torch sees no CUDA device" in proc.stderr
    assert not (tmp_path / "results").exists()


def test_a_bad_training_stretch_in_the_environment_fails_naming_the_variable(tmp_path):
    proc = run_snakemake(
        tmp_path, "-n", env={"MOSAICFLOW_SLURM_TRAINING_MINUTES": "2h"}, check=False
    )
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "MOSAICFLOW_SLURM_TRAINING_MINUTES='2h': a positive whole number" in proc.stderr
    assert "Traceback" not in proc.stderr
