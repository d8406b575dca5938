"""The workflow's paths: one module, patterns with wildcards, one work-folder convention."""

from __future__ import annotations

import re

from mosaicflow.plan import paths
from mosaicflow.yolo.models import MODEL_PATTERN, MODELS


def test_model_files_keep_the_wildcard_and_live_under_results_models():
    files = paths.model_files("{model}")
    assert files["weights"] == "results/models/{model}/best.pt"
    assert files["metrics"] == "results/metrics/{model}.json"
    assert all(path.startswith("results/") for path in files.values())


def test_work_folders_follow_one_convention():
    assert paths.work_root("region_seg") == "results/region_seg/_work"
    assert paths.scratch_dir("regions", "{video}") == "results/regions/_work/{video}"
    assert paths.log("train_model", "{model}") == "results/logs/train_model/{model}.log"
    assert paths.benchmark("gather_regions") == "results/benchmarks/gather_regions/all.tsv"


def test_model_wildcard_matches_exactly_the_table():
    assert [n for n in MODELS if re.fullmatch(MODEL_PATTERN, n)] == list(MODELS)
    assert not re.fullmatch(MODEL_PATTERN, "region_seg/x") and not re.fullmatch(MODEL_PATTERN, "")


def test_labelme_dirs_of_the_demo_and_of_user_data():
    demo = {"source": {"kind": "demo"}}
    assert paths.region_labelme_dirs(demo)["train"] == [paths.world_labelme_dir("train")]
    user = {"source": {"kind": "videos", "labelme_train": "/l/train", "labelme_val": None}}
    assert paths.region_labelme_dirs(user) == {"train": ["/l/train"]}


def test_shards_are_targets_only_when_asked_for_and_the_dataset_exists():
    from mosaicflow.config import validate_config
    from mosaicflow.plan import stages
    from mosaicflow.plan.run import Run

    config = {"profile": "demo"}
    validate_config(config)
    assert stages.shards.outputs(Run.of(config)) == []
    config["shards"] = {**config["shards"], "detection": True, "clips": True}
    both = [paths.shard_dir("detection"), paths.shard_dir("clips")]
    assert stages.shards.outputs(Run.of(config)) == both
    assert set(both) <= set(stages.final_outputs(Run.of(config)))
    config["detector"] = {**config["detector"], "weights": "given.pt"}  # no dataset to pack
    assert stages.shards.outputs(Run.of(config)) == [paths.shard_dir("clips")]


def test_review_outputs_follow_the_clip_regions():
    from types import SimpleNamespace

    from mosaicflow.config import validate_config
    from mosaicflow.plan import stages
    from mosaicflow.plan.run import Run
    from mosaicflow.plan.sources import SourceVideo

    config = {"profile": "demo"}
    validate_config(config)
    video = SourceVideo("world-train-00-0123abcd", "v.mp4", "train", "world-train-00")
    run = Run.of(config, [video])
    review = stages.review.outputs(run)
    assert stages.review.enabled(run)
    assert paths.REVIEW_RANKED in review and paths.REVIEW_EXPORT in review
    assert set(review) <= set(stages.final_outputs(run))
    assert stages.metrics_files(run)["clip_review"] == paths.REVIEW_METRICS
    wildcards = SimpleNamespace(video=video.id)
    inputs = stages.review.score_clips_input(run, wildcards)
    assert set(inputs) == {"manifest", "regions", "truth", "video", "segmenter"}
    assert inputs["segmenter"] == paths.model_files("region_seg")["weights"]
    check_off = {**config["review"]["contrast_check"], "enabled": False}
    config["review"] = {**config["review"], "contrast_check": check_off}
    inputs = stages.review.score_clips_input(Run.of(config, [video]), wildcards)
    assert set(inputs) == {"manifest", "regions", "truth"}
    config["review"] = {**config["review"], "nudenet": {**config["review"]["nudenet"],
                                                        "enabled": True}}  # fmt: skip
    inputs = stages.review.score_clips_input(Run.of(config, [video]), wildcards)
    assert set(inputs) == {"manifest", "regions", "truth", "video"} and inputs["video"] == "v.mp4"
    config["restoration_dataset"] = {**config["restoration_dataset"], "regions": "truth"}
    run = Run.of(config, [video])
    assert not stages.review.enabled(run) and paths.REVIEW_RANKED not in stages.final_outputs(run)
    assert "clip_review" not in stages.metrics_files(run)
