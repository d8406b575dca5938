"""The review contact sheet."""

from __future__ import annotations

import cv2
import numpy as np

from mosaicflow.mosaic.sheet import LABEL_H, TILE, contact_sheet


def test_contact_sheet_is_written_and_seeded(tmp_path):
    out = contact_sheet(tmp_path / "sub" / "sheet.png", seed=3)
    image = cv2.imread(str(out))
    assert image.shape == (7 * (TILE + LABEL_H), 6 * TILE, 3)
    assert not list(out.parent.glob(".tmp-*"))  # written atomically
    # The fixed rows do not depend on the seed except through the sigmoid estimate; the random
    # row does.
    other = cv2.imread(str(contact_sheet(tmp_path / "other.png", seed=4)))
    last_row = slice(6 * (TILE + LABEL_H), None)
    assert not np.array_equal(image[last_row], other[last_row])
    again = cv2.imread(str(contact_sheet(tmp_path / "again.png", seed=3)))
    np.testing.assert_array_equal(image, again)
