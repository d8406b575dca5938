"""The parts of `mosaicflow inspect` that run without FiftyOne: the environment lookup, the
prediction cache key, the clip previews' outline, the YOLO polygon reader."""

from __future__ import annotations

import numpy as np
import pytest

from mosaicflow.inspection.app import dataset_names, yolo_polylines
from mosaicflow.inspection.cli import PYTHON_ENV_VAR, inspect_python
from mosaicflow.inspection.predictions import prediction_key
from mosaicflow.inspection.previews import OUTLINE_RGB, outlined


def test_a_missing_environment_says_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.setenv(PYTHON_ENV_VAR, str(tmp_path / "nope" / "python"))
    with pytest.raises(ValueError, match="make inspect-env"):
        inspect_python()
    given = tmp_path / "python"
    given.write_text("")
    assert inspect_python(str(given)) == given


def test_prediction_key_follows_model_images_and_settings(tmp_path):
    model, image = tmp_path / "best.pt", tmp_path / "val" / "images" / "a.png"
    image.parent.mkdir(parents=True)
    model.write_bytes(b"weights")
    image.write_bytes(b"png")
    key = prediction_key(model, [image], {"conf": 0.05})
    assert key == prediction_key(model, [image], {"conf": 0.05})
    assert key != prediction_key(model, [image], {"conf": 0.25})
    image.write_bytes(b"png, rebuilt")
    assert key != prediction_key(model, [image], {"conf": 0.05})
    model.write_bytes(b"retrained")
    assert prediction_key(model, [image], {"conf": 0.05}) != key


def test_previews_outline_the_mask_only():
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    masks = np.zeros((2, 8, 8), np.uint8)
    masks[0, 2:6, 2:6] = 255
    out = outlined(frames, masks)
    red = (out == OUTLINE_RGB).all(axis=-1)
    assert red[0, 2, 2:6].all() and red[0, 2:6, 2].all() and not red[0, 3:5, 3:5].any()
    assert not red[1].any() and not red[0, :2].any()
    assert not frames.any()  # the input is left as it was


def test_yolo_polygons_are_read_and_malformed_lines_named(tmp_path):
    label = tmp_path / "a.txt"
    label.write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n\n1 0.2 0.2 0.3 0.2 0.3 0.3 0.2 0.3\n")
    polygons = yolo_polylines(label)
    assert len(polygons) == 2 and polygons[0] == (0, [(0.1, 0.1), (0.5, 0.1), (0.5, 0.5)])
    assert polygons[1][0] == 1  # a face mosaic's class
    (tmp_path / "data.yaml").write_text("names:\n  0: mosaic_region\n  1: mosaic_face\n")
    assert dataset_names(tmp_path) == {0: "mosaic_region", 1: "mosaic_face"}
    assert dataset_names(tmp_path / "none") == {0: "mosaic"}
    label.write_text("0 0.1 0.1 0.5\n")
    with pytest.raises(ValueError, match=r"a\.txt:1"):
        yolo_polylines(label)


def test_review_fields_come_from_the_ranking(tmp_path):
    import pandas as pd

    from mosaicflow.inspection.app import REVIEW_FIELDS, review_fields

    assert review_fields(tmp_path / "missing.parquet") == {}
    ranked = tmp_path / "ranked.parquet"
    pd.DataFrame(
        {
            "rank": [1, 2],
            "clip": ["a-000001", "a-000002"],
            "likely_false": [0.9, 0.1],
            "reasons": ["conf_mean 0.2", ""],
            "verdict": pd.Series(["drop", None], dtype="string"),
            "verdict_issue": [False, False],
        }
    ).to_parquet(ranked)
    fields = review_fields(ranked)
    assert set(fields["a-000001"]) == set(REVIEW_FIELDS.values())
    assert fields["a-000001"]["review_rank"] == 1 and fields["a-000001"]["verdict"] == "drop"
    assert fields["a-000002"]["verdict"] is None and fields["a-000002"]["likely_false"] == 0.1
