"""Restoration (``restoration.smk``): scene clips around the regions, their index, contact
sheets and (on the demo world) their scores against the truth; then the restorer's two stages,
conversion and export, unless ``restoration.weights`` is given."""

from __future__ import annotations

from typing import Any

from mosaicflow import installed
from mosaicflow.config import canonical
from mosaicflow.plan import paths
from mosaicflow.plan.run import Run
from mosaicflow.plan.stages import regions
from mosaicflow.plan.stages.world import world_items
from mosaicflow.restore.config import job_params as restoration_job_params


def enabled(run: Run) -> bool:
    """The clips are cut around a region segmenter's regions (or the demo truth)."""
    return "region_seg" in run.facts.models


def outputs(run: Run) -> list[str]:
    """The clip index and sheets, the clips' scores on the demo's test videos, and the trained,
    exported model (unless ``restoration.weights`` is given)."""
    files = [paths.RESTORATION_INDEX]
    files += [paths.restoration_sheet(split) for split in ("train", "val", "test")]
    if run.facts.demo:
        files.append(paths.RESTORATION_DATASET_METRICS)
    if run.facts.trains_restorer:
        model = paths.restoration_files()
        files += [model["weights"], model["model_json"]]
    return files


def metrics(run: Run) -> dict[str, str]:
    """The clips' scores (demo world) and each training stage's metrics."""
    found = {}
    if run.facts.demo:
        found["restoration_dataset"] = paths.RESTORATION_DATASET_METRICS
    if run.facts.trains_restorer:
        model = paths.restoration_files()
        found["restoration_stage1"] = model["stage1_metrics"]
        found["restoration_stage2"] = model["stage2_metrics"]
    return found


def test_video_ids(run: Run) -> list[str]:
    """Ids of the demo's test videos, in the order of the test items (world order)."""
    return run.role_ids(["test"]) if run.facts.demo else []


def job_params(run: Run, job: str) -> dict[str, Any]:
    """The ``restoration`` keys one restoration job reads (its rule's params); shipped start
    weights (``init_weights: base``) as a reference by place and content
    (:mod:`mosaicflow.installed`), so that a moved checkout reruns nothing."""
    params = restoration_job_params(run.config["restoration"], job)
    if params.get("init_weights"):
        params["init_weights"] = (
            installed.reference(params["init_weights"]) or params["init_weights"]
        )
    return params


# -- input and params functions of the rules ------------------------------------------------
def clip_watermark_model(run: Run, wildcards: Any) -> dict[str, str]:
    """The watermark detector the clip analysers run, when there is one."""
    if "watermark" in run.facts.models:
        return {"watermark": paths.model_files("watermark")["weights"]}
    return {}


def clip_region_input(run: Run, wildcards: Any) -> dict[str, str]:
    """The regions one video's clips are cut around (its regions.parquet or the demo truth)."""
    return regions.region_inputs(run, "restoration_dataset", run.videos[wildcards.video])


def clip_watermark_params(run: Run, wildcards: Any) -> dict[str, Any] | None:
    """The watermark detector's keys the clip analysers read (None without a detector)."""
    if "watermark" not in run.facts.models:
        return None
    return canonical({key: run.config["watermark"][key] for key in ("imgsz", "conf")})


def restoration_manifests(run: Run, wildcards: Any) -> list[str]:
    """The clip manifest of every source video (listed directly, so a dry run shows every
    job)."""
    return [paths.restoration_manifest(vid) for vid in run.videos]


def region_test_items(run: Run, wildcards: Any) -> list[str]:
    """The demo's test videos with ground truth (none for user videos)."""
    return world_items(run.specs, ["test"]) if run.facts.demo else []


def test_region_tables(run: Run, wildcards: Any) -> list[str]:
    """The region tables the test videos' clips were cut from, in the order of the test items
    (none when the clips follow the demo truth: the scoring derives them from it)."""
    if run.config["restoration_dataset"]["regions"] == "truth":
        return []
    return [paths.region_files(vid)["regions"] for vid in test_video_ids(run)]


def test_frame_indexes(run: Run, wildcards: Any) -> list[str]:
    """The frames indexes of the test videos with truth, in the order of the test items."""
    return [paths.frames_files(vid)["index"] for vid in test_video_ids(run)]


def test_videos(run: Run, wildcards: Any) -> list[str]:
    """The ids of the test videos with truth, in the order of the test items."""
    return test_video_ids(run)


def restoration_stage_input(run: Run, wildcards: Any) -> dict[str, str]:
    """The clip index a restoration stage trains on and, with ``balance.restoration``, the
    clips' sampling weights."""
    inputs = {"index": paths.RESTORATION_INDEX}
    if run.config["balance"]["restoration"]:
        inputs["balance"] = paths.balance_files("clips")["weights"]
    return inputs


def restoration_stage1_input(run: Run, wildcards: Any) -> dict[str, str]:
    """Stage 1's inputs (:func:`restoration_stage_input`) and the user's own weights it starts
    from (``restoration.init_weights``, read through the params); shipped weights are a param
    only (:func:`job_params`)."""
    inputs = restoration_stage_input(run, wildcards)
    weights = run.config["restoration"]["init_weights"]
    if weights and not installed.reference(weights):
        inputs["init_weights"] = weights
    return inputs
