"""The pre-flight of a labelled set: figures per split, errors for what cannot train, warnings
for what is thin, all in the dataset's provenance and the log."""

from __future__ import annotations

import json
import logging

import pytest

from mosaicflow.formats.dataset import labelme_to_yolo_dataset

from .helpers import labelme_shape, make_labelme

LABELS = ["nsfw"]


def _frames(folder, video, count, size, shapes_per_frame=1, empty_every=0):
    """``count`` labelme frames of ``video`` (named <video>-<frame>), ``size`` = (w, h)."""
    width, height = size
    for f in range(count):
        empty = empty_every and f % empty_every == 0
        shapes = [] if empty else [
            labelme_shape("nsfw", [[4 + k * 8, 4], [10 + k * 8, 4], [10 + k * 8, 12]])
            for k in range(shapes_per_frame)
        ]  # fmt: skip
        make_labelme(folder, f"{video}-{f:06d}", shapes, size=(width, height), seed=f)
    return folder


def test_issue_59_set_gets_its_figures_and_three_warnings(tmp_path, caplog):
    # 12 training frames of 176x144 from one video; validation frames of 720x528 (the
    # report had 54, six show the same)
    train = _frames(tmp_path / "train", "phone", 12, (176, 144))
    val = _frames(tmp_path / "val", "camera", 6, (720, 528), empty_every=3)
    with caplog.at_level(logging.INFO, logger="mosaicflow.formats.dataset"):
        result = labelme_to_yolo_dataset([train], [val], LABELS, tmp_path / "ds", seed=0,
                                         strict=True)  # fmt: skip
    splits = result.preflight["splits"]
    assert splits["train"] == {
        "frames": 12, "instances": 12, "empty": 0, "sources": 1,
        "width": {"min": 176, "median": 176, "max": 176},
        "height": {"min": 144, "median": 144, "max": 144}, "median_size": [176, 144],
    }  # fmt: skip
    assert (splits["val"]["frames"], splits["val"]["instances"], splits["val"]["empty"]) == (
        6, 4, 2,
    )  # fmt: skip
    assert splits["val"]["median_size"] == [720, 528]
    warnings = result.preflight["warnings"]
    assert len(warnings) == 3
    one_video, few, small = warnings
    assert str(train) in one_video
    assert "all 12 training frames come from one video (phone)" in one_video
    assert "only 12 labelled instances in 12 training frames (fewer than 30)" in few
    assert "median 176x144" in small and "median 720x528" in small and "3.9x smaller" in small
    assert "validation frames" in result.preflight["sizes_compared_with"]
    prov = json.loads((tmp_path / "ds" / "provenance.json").read_text())
    assert prov["preflight"] == result.preflight
    logged = caplog.text
    assert "train: 12 frames from 1 video(s), 12 labelled instances, 0 empty frames" in logged
    assert "sizes 176x144 to 176x144" in logged and "val: 6 frames" in logged
    assert all(w in logged for w in warnings)


def test_a_varied_set_passes_without_warnings(tmp_path):
    train = tmp_path / "train"
    for v, size in enumerate([(320, 192), (320, 192), (352, 240)]):
        _frames(train, f"vid{v}", 6, size, shapes_per_frame=3, empty_every=3)
    val = _frames(tmp_path / "val", "held", 4, (320, 192))
    result = labelme_to_yolo_dataset([train], [val], LABELS, tmp_path / "ds", seed=0, strict=True)
    fig = result.preflight["splits"]["train"]
    assert (fig["frames"], fig["instances"], fig["empty"], fig["sources"]) == (18, 36, 6, 3)
    assert fig["width"] == {"min": 320, "median": 320, "max": 352}
    assert fig["height"] == {"min": 192, "median": 192, "max": 240}
    assert result.preflight["warnings"] == []


def test_no_instance_in_train_is_an_error_naming_the_folder(tmp_path):
    train = _frames(tmp_path / "train", "vid", 4, (64, 48), empty_every=1)
    val = _frames(tmp_path / "val", "other", 2, (64, 48))
    out = tmp_path / "ds"
    with pytest.raises(ValueError, match="none of the 4 training frames has a labelled") as err:
        labelme_to_yolo_dataset([train], [val], LABELS, out, seed=0, strict=True)
    assert str(train) in str(err.value) and "['nsfw']" in str(err.value)
    assert not out.exists()  # nothing written
    # without `strict` (a plain conversion) it is a warning in the provenance
    result = labelme_to_yolo_dataset([train], [val], LABELS, out, seed=0)
    assert any("none of the 4 training frames" in w for w in result.preflight["warnings"])


def test_a_split_without_frames_is_an_error_naming_the_folder(tmp_path):
    # one video and no validation folder: the held-out split takes whole videos, so none
    train = _frames(tmp_path / "train", "only", 6, (64, 48))
    with pytest.raises(ValueError, match="no validation frames") as err:
        labelme_to_yolo_dataset([train], [], LABELS, tmp_path / "ds", seed=0, val_fraction=0.0,
                                strict=True)  # fmt: skip
    text = str(err.value)
    assert str(train) in text and "1 video(s)" in text and "source.labelme_val" in text
    assert "val_fraction 0.0" in text


def test_labels_that_are_not_targets_are_named_and_a_validation_without_any_is_refused(tmp_path):
    train = tmp_path / "train"
    for v in range(3):
        _frames(train, f"vid{v}", 6, (64, 48), shapes_per_frame=3)
    make_labelme(train, "vid0-000100", [labelme_shape("NSFW", [[4, 4], [20, 4], [20, 16]])])
    val = tmp_path / "val"  # a folder of another dataset: its label is 'cat'
    for f in range(3):
        make_labelme(val, f"pets-{f:06d}", [labelme_shape("cat", [[4, 4], [20, 4], [20, 16]])])
    with pytest.raises(ValueError, match=r"none of the 3 validation frames has a labelled"):
        labelme_to_yolo_dataset([train], [val], LABELS, tmp_path / "ds", seed=0, strict=True)
    result = labelme_to_yolo_dataset([train], [val], LABELS, tmp_path / "ds", seed=0)
    (other,) = [w for w in result.preflight["warnings"] if "left out" in w]
    assert "4 shapes whose label is not one of ['nsfw']" in other
    assert "'NSFW' x1 (e.g. vid0-000100.json)" in other and "'cat' x3 (e.g. pets-" in other
