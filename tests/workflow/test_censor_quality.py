"""The censor filter on demo-world footage that is already censored.

A world of 10 videos (25 s, 15 scenes each) renders nine in ten of its scenes with targets as a
poor source shows them, dealt in turn between two kinds: ``mosaic`` (the targets already
pixelated, blocks of 6 to 12 px, an already censored source) and ``codec`` (re-encoded by x264
at CRF 44 to 51, whose flat 8 and 16 px blocks are the analyser's hardest negatives). The
workflow builds its detection samples and restoration clips around the world's truth masks with
the default ``censor`` settings (the blockiness analyser), and the drops are scored against the
world's truth (:mod:`mosaicflow.evaluation.censor`).

Only the data stages run, without a watermark detector (``watermark.enabled: false``: no clip is
dropped for a watermark, so every drop is the censor filter's); no model is trained or read, so
the run stands alone (about a minute and a half on 2 cores).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mosaicflow.evaluation.censor import censored_frames, clip_items, drop_scores, sample_items
from tests.helpers import run_snakemake

pytestmark = pytest.mark.workflow

#: The issue's bar for precision and recall of the drops, samples and clips alike.
FLOOR = 0.9

WORLD = """\
world:
  minimums: false
  roles: {train: 8, val: 1, test: 1}
  seconds: 25
  scenes: 15
  reuploads: {sources: [], count: 0}
  degraded:
    p: 0.9
    roles: [train, val, test]
    kinds: [mosaic, codec]
    draw: dealt
quality: {enabled: false}
tags: {enabled: false}
watermark: {enabled: false}
restoration_dataset: {regions: truth, max_clips_per_video: 40}
detection_dataset: {regions: truth, frames_per_video: 40}
"""


@pytest.fixture(scope="module")
def censored_world(tmp_path_factory) -> Path:
    """The results folder of the censored world's samples and clips."""
    work = tmp_path_factory.mktemp("censored_world")
    config = work / "censored.yaml"
    config.write_text(WORLD)
    planned = run_snakemake(work, "-n", configfiles=[config]).stdout
    videos = sorted(
        set(re.findall(r"detection_samples/(world-[a-z]+-\d+-[0-9a-f]+)\.json", planned))
    )
    assert len(videos) == 10, videos
    targets = [f"results/detection_samples/{v}.json" for v in videos]
    targets += [f"results/restoration_dataset/videos/{v}.json" for v in videos]
    run_snakemake(work, "--", *targets, configfiles=[config])
    return work / "results"


def _scores(results: Path, folder: str, items) -> dict:
    collected = []
    for manifest in sorted((results / folder).glob("world-*.json")):
        data = json.loads(manifest.read_text())
        name = data["video"].rsplit("-", 1)[0]
        truth = json.loads((results / "world" / "truth" / f"{name}.json").read_text())
        collected += items(data, censored_frames(truth))
    scores = drop_scores(collected).to_dict()
    print(folder, scores)
    return scores


@pytest.mark.parametrize(
    ("folder", "items"),
    [("detection_samples", sample_items), ("restoration_dataset/videos", clip_items)],
    ids=["samples", "clips"],
)
def test_already_censored_frames_and_clips_are_dropped(censored_world, folder, items):
    scores = _scores(censored_world, folder, items)
    for figure in ("precision", "recall"):
        assert scores[figure] is not None and scores[figure] >= FLOOR, scores
        # one item moves the figure by at most a quarter of its distance to the floor
        assert scores[f"{figure}_one_item"] <= (scores[figure] - FLOOR) / 4 + 1e-9, scores
