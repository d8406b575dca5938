"""The tiny config runs end to end and is deterministic: same config, same bytes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cluster.conftest import slurm_test_runs_here
from tests.helpers import (
    REPO,
    digest_tree,
    planned_jobs,
    report_contents,
    run_snakemake,
    text_differences,
)

pytestmark = pytest.mark.workflow

TINY = REPO / "config" / "test-tiny.yaml"


def test_tiny_run_builds_every_target(tiny_run):
    results = tiny_run / "results"
    assert (results / "world" / "contact_sheet.png").is_file()
    assert len(list((results / "frames").glob("*/index.parquet"))) == 3
    assert (results / "rejected.tsv").read_text().startswith("video\tpath\treason")
    assert planned_jobs(run_snakemake(tiny_run, "-n", configfiles=[TINY]).stdout) == {}
    clips = results / "restoration_dataset"
    assert len(list((clips / "videos").glob("*.json"))) == 3
    assert (clips / "index.parquet").is_file()
    assert {p.name for p in (clips / "sheets").iterdir()} == {"train.png", "val.png", "test.png"}
    assert (results / "metrics" / "restoration_dataset.json").is_file()
    for name in ("stage1.pth", "stage2_init.pth", "stage2.pth", "generator.pth", "model.json"):
        assert (results / "models" / "restoration" / name).is_file(), name


@pytest.mark.skipif(
    slurm_test_runs_here(),
    reason="tests/cluster/test_slurm.py runs here: it reruns the tiny config (its datasets on "
    "the cluster, the rest locally) and checks the same bytes",
)
def test_same_config_gives_same_bytes(request):
    # the rerun only where the SLURM test cannot run (it costs a whole tiny run)
    runs = [request.getfixturevalue(name) for name in ("tiny_run", "tiny_rerun")]
    first, second = (digest_tree(run / "results") for run in runs)
    assert first.keys() == second.keys()
    differing = [name for name in first if first[name] != second[name]]
    assert differing == [], text_differences(*(run / "results" for run in runs), differing)
    assert len(first) > 20
    # epoch budgets, not the clock: two trainings give the same weights, byte for byte
    for model in ("region_seg", "watermark"):
        assert {f"models/{model}/best.pt", f"models/{model}/best.onnx"} <= first.keys()
    # iteration budgets: the restoration clips and both stages give the same bytes too
    assert "models/restoration/generator.pth" in first
    assert any(name.startswith("restoration_dataset/clips/") for name in first)


def test_inference_key_change_reruns_inference_not_training(tiny_run, tmp_path):
    # each rule gets only the keys it reads: a new confidence threshold redoes the inference
    infer = tmp_path / "infer.yaml"
    infer.write_text("regions:\n  conf: 0.3\n  tracker: botsort.yaml\nwatermark:\n  conf: 0.4\n")
    jobs = planned_jobs(run_snakemake(tiny_run, "-n", configfiles=[TINY, infer]).stdout)
    assert jobs.pop("infer_regions") == 3
    # no YOLO model retrains or is re-scored; what reads the regions or the watermark
    # detector's threshold (the clip analysers) reruns downstream
    assert not {"train_model", "evaluate_model", "build_region_dataset"} & set(jobs), jobs
    assert {"gather_regions", "prelabel_uncertain"} <= set(jobs)
    # a training key retrains (and re-evaluates) that model only (the watermark detector: a
    # retrained segmenter also retrains the mosaic detector started from it, see below)
    train = tmp_path / "train.yaml"
    train.write_text("watermark:\n  epochs: 3\n")
    jobs = planned_jobs(run_snakemake(tiny_run, "-n", configfiles=[TINY, train]).stdout)
    assert jobs["train_model"] == jobs["evaluate_model"] == 1
    # the mosaic detector's threshold choice re-scores it and redoes the restore runs that use
    # the chosen threshold, and trains nothing
    threshold = tmp_path / "threshold.yaml"
    threshold.write_text("detector:\n  max_fp_rate: 0.1\n")
    jobs = planned_jobs(run_snakemake(tiny_run, "-n", configfiles=[TINY, threshold]).stdout)
    assert jobs.pop("evaluate_model") == 1 and jobs.pop("restore_test_video") == 1
    assert set(jobs) <= {"evaluate_restoration", "gather_metrics", "all"}, jobs


def test_speed_settings_rerun_nothing(tiny_run, tmp_path):
    # decoder threads and DataLoader workers change how fast a job runs, not what it writes
    faster = tmp_path / "faster.yaml"
    faster.write_text("frames:\n  decode_threads: 0\nrestoration:\n  num_workers: 0\n")
    assert planned_jobs(run_snakemake(tiny_run, "-n", configfiles=[TINY, faster]).stdout) == {}


def test_detector_threshold_is_chosen_on_validation(tiny_run, ultralytics_offline):
    from mosaicflow.video.decode import iter_frames

    results = tiny_run / "results"
    card = json.loads((results / "models" / "detector" / "model.json").read_text())
    threshold = card["threshold"]
    assert threshold["source"] == "validation" and threshold["videos"] == ["world-val-00"]
    assert threshold["conf"] >= threshold["floor"] == 0.4  # detector.conf
    assert threshold["frame_fp_rate"] <= threshold["max_fp_rate"] == 0.05
    assert threshold["frames_without_mosaic"] + threshold["frames_with_mosaic"] > 0
    # the same video without mosaics: the reported rate is the share of its frames on which
    # the detector fires at the chosen threshold, counted here with ultralytics alone
    assert threshold["clean_videos"] == ["world-val-00"]
    clean = results / "world" / "videos" / "world-val-00.mp4"
    frames = [np.ascontiguousarray(rgb[..., ::-1]) for _, rgb in iter_frames(clean)]
    assert threshold["clean_frames"] == len(frames) > 0
    model = ultralytics_offline.YOLO(str(results / "models" / "detector" / "best.pt"))
    fired = sum(
        len(r.boxes) > 0
        for r in model.predict(
            frames, imgsz=card["imgsz"], conf=threshold["conf"], iou=0.5, device="cpu",
            verbose=False,
        )
    )  # fmt: skip
    assert threshold["clean_frame_fp_rate"] == round(fired / len(frames), 4), fired
    metrics = json.loads((results / "metrics" / "detector.json").read_text())
    assert metrics["threshold"] == threshold and metrics["test"]["conf"] == threshold["conf"]
    assert metrics["test"]["clean_frames"] == metrics["test"]["frames"]  # the clean test video
    assert 0 <= metrics["test"]["clean_frame_fp_rate"] <= 1
    summary = json.loads((results / "evaluate" / "world-test-00" / "restore.json").read_text())
    assert summary["detector"]["conf"] == threshold["conf"]


def test_yolo_models_start_from_the_base_and_the_card_says_so(tiny_run):
    results = tiny_run / "results"
    card = json.loads((results / "models" / "bases" / "model.json").read_text())
    assert card["source"]["package"] == "nudenet 3.4.2"
    for model, task in (
        ("region_seg", "segment"),
        ("watermark", "detect"),
        ("detector", "segment"),
    ):
        start = json.loads((results / "models" / model / "model.json").read_text())["training"]
        base = card["bases"][task]
        assert start["start"] == {"kind": "base", "weights": base["weights"],
                                  "sha256": base["sha256"]}  # fmt: skip


def test_detector_started_from_the_segmenter_follows_it(tiny_run, tmp_path):
    # From the base (the default) the detector does not depend on the segmenter: the tiny
    # detection set pixelates the demo truth, so a retrained segmenter retrains nothing else.
    segmenter = tmp_path / "segmenter.yaml"
    segmenter.write_text("regions:\n  epochs: 3\n")
    jobs = planned_jobs(run_snakemake(tiny_run, "-n", configfiles=[TINY, segmenter]).stdout)
    assert jobs["train_model"] == 1
    # detector.from_region_seg: the segmenter's weights become the detector's input
    follow = tmp_path / "follow.yaml"
    follow.write_text("detector:\n  from_region_seg: true\n")
    jobs = planned_jobs(run_snakemake(tiny_run, "-n", configfiles=[TINY, follow]).stdout)
    assert jobs["train_model"] == 1 and "build_region_dataset" not in jobs  # the detector only
    jobs = planned_jobs(run_snakemake(tiny_run, "-n", configfiles=[TINY, follow, segmenter]).stdout)
    assert jobs["train_model"] == 2  # a retrained segmenter retrains the detector started from it
    clash = tmp_path / "clash.yaml"
    clash.write_text(f"detector:\n  from_region_seg: true\n  pretrained: {TINY}\n")
    proc = run_snakemake(tiny_run, "-n", configfiles=[TINY, clash], check=False)
    assert proc.returncode != 0
    assert "detector.from_region_seg and detector.pretrained" in proc.stdout + proc.stderr


def test_stage2_key_change_retrains_stage2_only(tiny_run, tmp_path):
    # each restoration job gets only the keys it reads: stage 1 and the clips stay
    stage2 = tmp_path / "stage2.yaml"
    stage2.write_text("restoration:\n  stage2:\n    lr: 1.0e-4\n")
    jobs = planned_jobs(run_snakemake(tiny_run, "-n", configfiles=[TINY, stage2]).stdout)
    assert jobs.pop("train_restoration_stage2") == jobs.pop("export_restoration") == 1
    downstream = {"restore_test_video", "evaluate_restoration", "plot_training_curves",
                  "gather_metrics", "all"}  # fmt: skip
    assert set(jobs) <= downstream, jobs
    # a clip setting rebuilds the clips, their index and everything trained on them
    clips = tmp_path / "clips.yaml"
    clips.write_text("restoration_dataset:\n  border: 0.2\n")
    jobs = planned_jobs(run_snakemake(tiny_run, "-n", configfiles=[TINY, clips]).stdout)
    assert jobs["build_restoration_clips"] == 3 and jobs["train_restoration_stage1"] == 1
    assert "train_model" not in jobs and "infer_regions" not in jobs


def test_tiny_run_builds_the_detection_dataset_and_the_detector(tiny_run):
    import json

    import yaml

    results = tiny_run / "results"
    dataset = results / "detection_dataset"
    data = yaml.safe_load((dataset / "data.yaml").read_text())
    # config/test-tiny.yaml turns the face class on
    assert data["names"] == {0: "mosaic_region", 1: "mosaic_face"}
    assert data["path"] == str(dataset.absolute())
    counts = json.loads((dataset / "provenance.json").read_text())["counts"]
    assert counts["train_images"] > 0 and counts["train_positives"] > 0 and counts["val_images"]
    for split in ("train", "val", "test"):
        assert (dataset / "coco" / f"{split}.json").is_file()
    assert len(list((results / "detection_samples").glob("*.json"))) == 3
    record = json.loads((results / "models" / "detector" / "model.json").read_text())
    test = record["metrics"]["test"]
    assert test["frames"] == 24 and test["instances"] > 0  # every frame of the tiny test video
    assert {"mask_map50", "box_map50", "frame_recall", "frame_fp_rate"} <= test.keys()
    assert (results / "models" / "detector" / "best.onnx").stat().st_size > 0
    assert (results / "detection_testset" / "world-test-00.mkv").is_file()
    # the world's faces are face mosaics in the test video, scored by class
    truth = json.loads((results / "detection_testset" / "world-test-00.json").read_text())
    faces = sum(len(e["face_instances"]) for e in truth["per_frame"])
    assert faces > 0 and test["per_class_instances"]["mosaic_face"] == faces
    assert test["per_class_instances"]["mosaic_region"] == test["instances"]
    assert set(test["per_class_mask_map50"]) == {"mosaic_region", "mosaic_face"}


def test_balance_weights_feed_the_detector_and_the_restorer(tiny_run):
    import pandas as pd

    results = tiny_run / "results"
    samples = pd.read_parquet(results / "detection_dataset" / "samples.parquet")
    assert {"image", "split", "video", "positive", "mosaic_px", "block_size"} <= set(samples)
    train = samples[samples["split"] == "train"]
    weights = pd.read_parquet(results / "balance" / "detection" / "weights.parquet")
    assert sorted(weights["image"]) == sorted(train["image"])
    assert weights["sample_weight"].sum() == pytest.approx(1.0)
    assert weights["multiplier"].min() == 1
    # the detector trained on the repeated list: each image as often as its multiplier says
    record = json.loads((results / "models" / "detector" / "model.json").read_text())
    work = results / "detector" / "_work" / record["state_key"] / "data"
    listed = pd.Series((work / "train.txt").read_text().split()).map(lambda p: p.split("/")[-1])
    names = weights["image"].str.split("/").str[-1]
    expected = dict(zip(names, weights["multiplier"], strict=True))
    assert listed.value_counts().to_dict() == expected
    clips = pd.read_parquet(results / "balance" / "clips" / "weights.parquet")
    index = pd.read_parquet(results / "restoration_dataset" / "index.parquet")
    kept_train = index[(index["split"] == "train") & index["kept"]]
    assert sorted(clips["clip"]) == sorted(kept_train["clip"])
    for stage in ("stage1", "stage2"):
        metrics = json.loads((results / "metrics" / f"restoration_{stage}.json").read_text())
        assert "+balance:" in metrics["data_hash"], metrics["data_hash"]
    buckets = pd.read_csv(results / "balance" / "clips" / "buckets.tsv", sep="\t")
    assert buckets["probability"].sum() == pytest.approx(1.0, abs=1e-4)


def test_tiny_run_evaluates_and_the_report_holds_every_figure(tiny_run, tmp_path):
    import json

    results = tiny_run / "results"
    metrics = json.loads((results / "metrics.json").read_text())
    assert {"config_hash", "code_hash", "region_seg", "watermark", "detector", "evaluate",
            "restoration_stage1", "restoration_stage2", "restoration_dataset",
            "detection_dataset"} <= metrics.keys()  # fmt: skip
    evaluate = json.loads((results / "metrics" / "evaluate.json").read_text())
    assert metrics["evaluate"] == evaluate and evaluate["videos"] == 1
    video = evaluate["per_video"][0]
    assert video["video_check"]["frames_ok"] and video["video_check"]["fps_ok"]
    assert video["frames"] == 24 and video["input"]["psnr_mask"] is not None
    assert video["faces"]["mosaic_pixels"] > 0 and video["faces"]["psnr_vs_input"] is not None
    restore = json.loads((results / "evaluate" / "world-test-00" / "restore.json").read_text())
    assert restore["classes"] == ["mosaic_region"]  # the face class is left alone
    assert restore["detector_classes"] == ["mosaic_region", "mosaic_face"]
    assert (results / "evaluate" / "world-test-00" / "restored.mp4").stat().st_size > 0

    report = tmp_path / "report.html"  # outside results/: the run's outputs stay as they were
    run_snakemake(tiny_run, "--report", str(report), configfiles=[TINY])
    files, categories = report_contents(report.read_text(encoding="utf-8"))
    assert categories["Demo world"]["Other"] == ["results/world/contact_sheet.png"]
    sheets = {f"results/restoration_dataset/sheets/{s}.png" for s in ("train", "val", "test")}
    assert set(categories["Restoration dataset"]["Other"]) == sheets
    curves = {f"results/evaluate/curves/{m}.png"
              for m in ("region_seg", "watermark", "detector", "restoration")}  # fmt: skip
    assert set(categories["Training curves"]["Other"]) == curves
    pr_curves = {
        f"results/evaluate/pr_curves/{m}.png" for m in ("region_seg", "watermark", "detector")
    }
    assert set(categories["PR curves"]["Other"]) == pr_curves
    for path in pr_curves:
        model = path.rsplit("/", 1)[1].removesuffix(".png")
        assert files[path]["labels"] == {"model": model}
        assert "Precision-recall curve" in files[path]["caption"]
        assert files[path]["data_uri"].startswith("data:image/png")
        card = json.loads((results / "models" / model / "model.json").read_text())
        assert len(card["pr_curves"]["recall"]) == 101, model  # the tiny run has test truth
    evaluation = {f"results/evaluate/{n}" for n in ("table.tsv", "side_by_side.mp4", "grid.png")}
    assert set(categories["Evaluation"]["Other"]) == evaluation
    for path in curves:
        model = path.rsplit("/", 1)[1].removesuffix(".png")
        assert files[path]["labels"] == {"model": model}
        assert f"<strong>{model}</strong>" in files[path]["caption"]
        assert files[path]["data_uri"].startswith("data:image/png")
    assert "End-to-end evaluation" in files["results/evaluate/table.tsv"]["caption"]
    assert files["results/evaluate/side_by_side.mp4"]["mime_type"] == "video/mp4"
    assert "Still frames" in files["results/evaluate/grid.png"]["caption"]
    assert "Restoration clips" in files["results/restoration_dataset/sheets/train.png"]["caption"]
    assert files["results/evaluate/grid.png"]["data_uri"].startswith("data:image/png")


def test_tiny_run_packs_both_datasets_into_shards(tiny_run):
    import torch
    import yaml

    from mosaicflow.config import build, validate_config
    from mosaicflow.datasets.clips.torch_dataset import MosaicClipDataset
    from mosaicflow.datasets.shards import unpack_detection
    from mosaicflow.mosaic.config import MosaicConfig
    from mosaicflow.yolo.dataset import read_dataset

    results = tiny_run / "results"
    config = yaml.safe_load(TINY.read_text())
    validate_config(config)
    clips = results / "shards" / "clips"
    assert len(list(clips.glob("clips-*.tar"))) > 1
    args = dict(
        num_frames=3, size=32, mosaic_cfg=build(MosaicConfig, config["mosaic"]), seed=1,
        train=False,
    )  # fmt: skip
    packed = MosaicClipDataset.from_shards(clips, **args)
    plain = MosaicClipDataset.from_index(results / "restoration_dataset" / "index.parquet", **args)
    assert len(packed) == len(plain) > 0
    for i in range(len(plain)):
        for a, b in zip(packed[i], plain[i], strict=True):
            assert torch.equal(a, b)
    detection = results / "shards" / "detection"
    assert len(list(detection.glob("detection-*.tar"))) > 1
    unpacked = unpack_detection(detection, tiny_run / "unpacked_detection")
    folder = results / "detection_dataset"
    for path in folder.glob("*/*/*"):
        if path.parent.name in ("images", "labels", "masks"):
            assert (unpacked / path.relative_to(folder)).read_bytes() == path.read_bytes()
    assert read_dataset(unpacked).data_hash == read_dataset(folder).data_hash
