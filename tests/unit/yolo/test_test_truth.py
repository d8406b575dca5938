"""A user's test truth: track ids become stable mask ids, masks are painted by score."""

from __future__ import annotations

import numpy as np
import pytest

from mosaicflow.yolo.infer import encode_rle, rows_frame
from mosaicflow.yolo.inferred_truth import track_keys, truth_ids, truth_masks


def _row(frame, instance=-1, track=-1, score=0.0, mask=None):
    rle = encode_rle(mask) if mask is not None else None
    return {"frame": frame, "time": frame / 10, "instance": instance, "track_id": track,
            "class_id": 0 if instance >= 0 else -1, "score": score, "x0": 0.0, "y0": 0.0,
            "x1": 1.0, "y1": 1.0, "area": int(mask.sum()) if mask is not None else 0,
            "rle": rle}  # fmt: skip


def _box(y0, x0, y1, x1, shape=(8, 8)):
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_tracks_keep_one_id_and_untracked_detections_get_their_own():
    rows = [
        _row(0, 0, track=7, score=0.9, mask=_box(0, 0, 2, 2)),
        _row(0, 1, track=-1, score=0.4, mask=_box(5, 5, 7, 7)),
        _row(1, 0, track=7, score=0.8, mask=_box(0, 1, 2, 3)),
        _row(2),
        _row(3, 0, track=3, score=0.7, mask=_box(4, 0, 6, 2)),
    ]
    table = rows_frame(rows)
    keys = track_keys(table)
    assert keys[0] == keys[2] == 7 and keys[1] < 0 and np.isnan(keys[3])
    ids, reused = truth_ids(table)
    assert ids.tolist() == [1, 2, 1, 0, 3] and reused == 0


def test_ids_are_reused_only_after_their_track_ended():
    # three tracks one after another, two at a time at most, with room for two ids
    rows = [
        _row(0, 0, track=1, score=0.5, mask=_box(0, 0, 1, 1)),
        _row(0, 1, track=2, score=0.5, mask=_box(2, 2, 3, 3)),
        _row(1, 0, track=2, score=0.5, mask=_box(2, 2, 3, 3)),
        _row(1, 1, track=3, score=0.5, mask=_box(4, 4, 5, 5)),
    ]
    table = rows_frame(rows)
    with pytest.raises(ValueError, match="frame 0: more than 1 regions"):
        truth_ids(table, max_ids=1)
    ids, reused = truth_ids(table, max_ids=2)
    assert ids.tolist() == [1, 2, 2, 1] and reused == 1
    rows.append(_row(1, 2, track=4, score=0.5, mask=_box(6, 6, 7, 7)))
    with pytest.raises(ValueError, match="frame 1"):
        truth_ids(rows_frame(rows), max_ids=2)


def test_masks_are_painted_by_score():
    low, high = _box(0, 0, 4, 4), _box(2, 2, 6, 6)
    table = rows_frame(
        [_row(0, 0, track=1, score=0.9, mask=high), _row(0, 1, track=2, score=0.3, mask=low),
         _row(1)]
    )  # fmt: skip
    ids, _ = truth_ids(table)
    masks, visible = zip(*truth_masks(table, ids, 2, 8, 8), strict=True)
    assert masks[0].dtype == np.uint8 and masks[0].shape == (8, 8)
    assert (masks[0][high] == 1).all()  # the higher score wins the overlap
    assert (masks[0][low & ~high] == 2).all() and not masks[0][~(low | high)].any()
    assert list(visible) == [[1, 2], []] and not masks[1].any()
