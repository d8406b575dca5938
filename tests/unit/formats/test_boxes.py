import numpy as np

from mosaicflow.formats.boxes import mask_box, overlaps_of_smaller, share_inside, shares_inside


def test_share_inside_is_the_share_of_the_first_box_inside_the_second():
    assert share_inside((0, 0, 10, 10), (5, 0, 20, 10)) == 0.5
    assert share_inside((0, 0, 0, 10), (0, 0, 20, 10)) == 0.0
    assert share_inside((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0  # touching edge only


def test_shares_inside_takes_many_boxes_and_none():
    shares = shares_inside((0, 0, 100, 100), np.array([[50, 50, 150, 150], [10, 10, 20, 20]]))
    assert shares.tolist() == [0.25, 1.0]
    assert shares_inside((0, 0, 100, 100), np.zeros((0, 4))).shape == (0,)


def test_mask_box_has_exclusive_ends():
    mask = np.zeros((20, 30), bool)
    mask[4:9, 10:12] = True
    assert mask_box(mask) == (10.0, 4.0, 12.0, 9.0)
    assert mask_box(np.zeros((3, 3), bool)) is None


def test_overlaps_of_smaller_is_one_when_either_box_holds_the_other():
    boxes = np.array([[0, 0, 200, 200], [10, 10, 20, 20], [50, 0, 150, 100], [300, 0, 310, 10]])
    assert overlaps_of_smaller((0, 0, 100, 100), boxes).tolist() == [1.0, 1.0, 0.5, 0.0]
    assert overlaps_of_smaller((0, 0, 0, 100), boxes).tolist() == [0.0] * 4
