"""What a job would refuse is refused before the first job, naming the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mosaicflow.config import ConfigError, validate_config
from mosaicflow.config_checks import check_config, ultralytics_arguments
from mosaicflow.io import load_yaml
from mosaicflow.plan.gpu import (
    CudaGpu,
    check_device,
    cuda_gpu_apart,
    runs_on,
)

REPO = Path(__file__).resolve().parents[2]


def _config(overlay: str = "", tmp_path: Path | None = None) -> dict[str, Any]:
    """The embedded default (the demo) with ``overlay`` (YAML) merged section by section."""
    from mosaicflow.plan.cli import read_configs

    files = [str(REPO / "config" / "config.yaml")]
    if overlay:
        assert tmp_path is not None
        (tmp_path / "overlay.yaml").write_text(overlay)
        files.append(str(tmp_path / "overlay.yaml"))
    config = read_configs(files)
    validate_config(config)
    return config


def _user_config(tmp_path: Path, overlay: str = "") -> dict[str, Any]:
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"")
    (tmp_path / "train").mkdir()
    return _config(
        f"source: {{kind: videos, videos: {tmp_path / 'videos'}, "
        f"labelme_train: {tmp_path / 'train'}}}\n{overlay}",
        tmp_path,
    )


def test_the_default_and_the_tiny_config_pass():
    assert check_config(_config()) == []
    from mosaicflow.plan.cli import read_configs

    tiny = read_configs(
        [str(REPO / "config" / "config.yaml"), str(REPO / "config" / "test-tiny.yaml")]
    )
    validate_config(tiny)
    assert check_config(tiny) == []


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ("mosaic: {size_scale: [2.0, 1.0]}", "config key 'mosaic.size_scale'"),
        (
            "mosaic: {degradations: {x264: {p: 0.6}, vp9: {p: 0.6}}}",
            "codec probabilities sum to 1.300",
        ),
        ("tags: {enabled: true, classes: [FACE_FEMAL]}", "config key 'tags.classes'"),
        ("review: {contrast_check: {gain: 0.9, offset: 200}}", "review.contrast_check"),
        ("frames: {mpdecimate: {keep: 3}}", "config key 'frames.mpdecimate'"),
        ("regions: {overrides: {optimizer: auto}}", "regions: optimizer 'auto'"),
        ("regions: {overrides: {time: 1}}", "regions: ultralytics' `time` budget"),
        ("regions: {overrides: {foo_bar: 1}}", "regions.overrides: ['foo_bar']"),
        ("restoration: {mid_channels: 32}", "restoration.init_weights': the restorer base"),
        ("restoration: {hr_skip: false}", "hr_skip False (the base: True)"),
        (
            "quality: {enabled: false}\ndetection_dataset: {min_source_quality: 0.5}",
            "'detection_dataset.min_source_quality': 0.5 needs the source-quality classifier",
        ),
    ],
)
def test_what_a_job_would_refuse_is_refused_before_any_job(overlay, message, tmp_path):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config(_config(overlay, tmp_path))


def test_a_given_restorer_of_another_shape_trains_nothing_and_passes(tmp_path):
    (tmp_path / "lada.pth").write_bytes(b"weights")
    overlay = (
        f"restoration: {{weights: {tmp_path / 'lada.pth'}, mid_channels: 64, num_blocks: 15, "
        "hr_skip: false}"
    )
    assert check_config(_config(overlay, tmp_path)) == []


def test_the_restorer_base_is_fine_with_its_own_shape_or_a_random_start(tmp_path):
    assert (
        check_config(_config("restoration: {mid_channels: 32, init_weights: random}", tmp_path))
        == []
    )


@pytest.mark.parametrize("section", ["detection_dataset", "restoration_dataset"])
def test_truth_regions_on_the_user_s_videos_are_refused(section, tmp_path):
    config = _user_config(tmp_path, f"{section}: {{regions: truth}}")
    with pytest.raises(
        ConfigError, match=rf"'{section}.regions': 'truth' needs source.kind 'demo'"
    ):
        check_config(config)


def test_one_folder_as_labelme_train_and_val_is_refused_naming_both_keys(tmp_path):
    config = _user_config(tmp_path)
    (tmp_path / "link").symlink_to(tmp_path / "train")
    config["source"]["labelme_val"] = str(tmp_path / "link")
    with pytest.raises(ConfigError, match=r"'source.labelme_train' and 'source.labelme_val' are "
                       "one folder"):  # fmt: skip
        check_config(config)
    (tmp_path / "val").mkdir()
    config["source"]["labelme_val"] = str(tmp_path / "val")
    check_config(config)


def test_a_start_given_twice_is_refused_naming_both_keys(tmp_path):
    (tmp_path / "start.pt").write_bytes(b"weights")
    config = _user_config(
        tmp_path, f"detector: {{from_region_seg: true, pretrained: {tmp_path / 'start.pt'}}}"
    )
    with pytest.raises(ConfigError, match=r"detector\.from_region_seg and detector\.pretrained"):
        check_config(config)


def test_keys_the_run_ignores_are_named(tmp_path):
    warnings = check_config(_config("frames: {mpdecimate: {hi: 2000}}", tmp_path))
    assert warnings == [
        "frames.mpdecimate.hi not used: frames.mpdecimate.preset 'default' sets them "
        "(preset: null uses your values)"
    ]
    assert check_config(_config("frames: {mpdecimate: {preset: null, hi: 2000}}", tmp_path)) == []


def test_a_user_run_without_a_region_segmenter_is_named(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"")
    config = _config(f"source: {{kind: videos, videos: {tmp_path / 'videos'}}}", tmp_path)
    (warning,) = check_config(config)
    assert "neither source.labelme_train nor regions.weights is given" in warning


def test_ultralytics_arguments_are_its_default_yaml_keys():
    known = ultralytics_arguments()
    assert {"epochs", "batch", "imgsz", "mosaic", "optimizer"} <= known
    assert "foo_bar" not in known


def test_a_cuda_device_this_machine_does_not_show_is_refused_in_a_local_run():
    turing = dict(gpu=lambda i: CudaGpu(i, "T4", (7, 5)), arch_list=lambda: ["sm_75"])
    check_device("cuda", local=False, count=lambda: 0)  # a cluster node is another machine
    check_device("auto", local=True, count=lambda: 0, visible=lambda: True)
    check_device("cpu", local=True, count=lambda: 0)
    check_device("cuda:1", local=True, count=lambda: 2, **turing)
    with pytest.raises(ConfigError, match="'cuda', but torch sees no CUDA device"):
        check_device("cuda", local=True, count=lambda: 0)
    with pytest.raises(ConfigError, match="'cuda:2', but torch sees 2 CUDA devices"):
        check_device("cuda:2", local=True, count=lambda: 2, **turing)


def _never() -> int:
    raise AssertionError("torch was asked")


def test_a_gpu_this_torch_build_has_no_kernels_for_is_refused_before_the_first_job():
    build = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
    volta = dict(count=lambda: 2, arch_list=lambda: build,
                 gpu=lambda i: CudaGpu(i, "Tesla V100-SXM2-32GB", (7, 0)))  # fmt: skip
    for device in ("auto", "cuda", "cuda:1"):
        with pytest.raises(ConfigError, match=r"V100-SXM2-32GB \(compute capability 7\.0\), "
                           r"which this torch build has no kernels for .*device: cpu"):  # fmt: skip
            check_device(device, local=True, visible=lambda: True, **volta)
    with pytest.raises(ConfigError, match="'auto' picks cuda:0, Tesla V100"):
        check_device("auto", local=True, visible=lambda: True, **volta)
    check_device("auto", local=False, **volta)  # a cluster job's node is another machine
    check_device("auto", local=True, count=_never, visible=lambda: False)  # no driver, no torch
    ampere = dict(volta, gpu=lambda i: CudaGpu(i, "A10", (8, 6)))
    check_device("cuda:1", local=True, **ampere)


@pytest.mark.parametrize(
    ("capability", "arch_list", "runs"),
    [
        ((8, 6), ["sm_80"], True),  # a binary runs on later minors of its major
        ((8, 0), ["sm_86"], False),  # not on earlier ones
        ((9, 0), ["sm_80", "sm_86"], False),  # nor on another major
        ((9, 0), ["sm_80", "compute_80"], True),  # PTX runs on every later GPU
        ((7, 5), ["compute_80"], False),
        ((9, 0), ["sm_90a"], True),
        ((12, 0), ["sm_100", "sm_120"], True),
        ((7, 5), [], False),  # a CPU build
    ],
)
def test_which_gpus_a_torch_build_runs_on(capability, arch_list, runs):
    assert runs_on(capability, arch_list) is runs


def test_schema_bounds_the_seed_and_the_training_sizes(tmp_path):
    for overlay, key in (
        ("seed: 4294967296", "config key 'seed'"),
        ("regions: {batch: 0}", "config key 'regions.batch'"),
        ("detector: {imgsz: 16}", "config key 'detector.imgsz'"),
        ("restoration: {num_blocks: 0}", "config key 'restoration.num_blocks'"),
    ):
        (tmp_path / "overlay.yaml").write_text(overlay)
        from mosaicflow.plan.cli import read_configs

        config = read_configs(
            [str(REPO / "config" / "config.yaml"), str(tmp_path / "overlay.yaml")]
        )
        with pytest.raises(ConfigError) as err:
            validate_config(config)
        assert key in str(err.value), str(err.value)
    assert load_yaml((REPO / "config" / "config.yaml").read_text())["seed"] < 2**32


def test_the_gpu_is_asked_in_a_child_process_which_fails_quietly_without_one():
    import torch

    if torch.cuda.is_available():
        found = cuda_gpu_apart(0)
        assert found is not None and found.capability == torch.cuda.get_device_capability(0)
        assert not torch.cuda.is_initialized()  # the child made the context, not this process
    else:
        assert cuda_gpu_apart(0) is None
