"""The perceptual signature of a decoded frame: a 64-bit ``imagehash.phash`` of its luma.

The frames stage hashes every frame that is not a near-duplicate while it decodes, so duplicate
search across videos never decodes a video again. The luma plane is first shrunk to
``SHRINK_WIDTH`` pixels wide (area average; ``phash`` itself works on 32 x 32), which keeps the
cost per frame small at any resolution. ``luma_std`` (0-255) tells flat frames (black, fades,
one colour), whose hashes are alike in every video, from informative ones.
"""

from __future__ import annotations

import cv2
import numpy as np

SHRINK_WIDTH = 128


def luma_signature(luma: np.ndarray) -> tuple[int, float]:
    """``(phash as a signed 64-bit int, standard deviation of the shrunk luma)`` of one frame.

    Args:
        luma: the frame's 8-bit luma (or grey) plane, (H, W).
    """
    import imagehash
    from PIL import Image

    h, w = luma.shape[:2]
    if w > SHRINK_WIDTH:
        size = (SHRINK_WIDTH, max(1, round(h * SHRINK_WIDTH / w)))
        luma = cv2.resize(np.ascontiguousarray(luma), size, interpolation=cv2.INTER_AREA)
    bits = imagehash.phash(Image.fromarray(np.ascontiguousarray(luma))).hash.flatten()
    value = int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])
    signed = value - (1 << 64) if value >= 1 << 63 else value
    return signed, float(luma.std())
