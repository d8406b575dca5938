"""Image files the readers accept: one list of suffixes for every folder of images.

Every reader (YOLO and COCO converters, region training, pre-labelling) decodes these with
OpenCV, Pillow or ultralytics, which all read each of them.
"""

from __future__ import annotations

from pathlib import Path

#: Lower-case suffixes of the image files readers pick up (compared case-insensitively).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def is_image(path: Path) -> bool:
    """Whether ``path`` has an image suffix (any case)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_images(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by path.

    Args:
        folder: an existing folder.

    Returns:
        Files whose suffix is in :data:`IMAGE_SUFFIXES`; sub-folders are not searched.
    """
    return sorted(p for p in Path(folder).iterdir() if is_image(p) and p.is_file())
