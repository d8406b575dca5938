"""Labels of one split: mosaic masks -> COCO (checked with pycocotools) -> YOLO-seg.

The COCO file comes from :func:`mosaicflow.formats.coco.masks_to_coco` (one annotation per
8-connected mosaic component, holes as RLE); :func:`check_coco` proves it with pycocotools:
every image's annotations decode (``annToMask``) to exactly its mask, and the annotations
loaded back as results (``loadRes``) decode to the same. YOLO labels come from
:func:`mosaicflow.formats.coco.coco_to_yolo`; :func:`check_yolo` runs ultralytics' own
image/label verification on every pair.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mosaicflow.formats.masks import read_mask

CLASS_NAMES = ("mosaic",)


def class_names(faces: bool) -> tuple[str, ...]:
    """The detector's classes: ``mosaic``, or with face mosaics ``mosaic_region`` and
    ``mosaic_face`` (:data:`~mosaicflow.datasets.detection.faces.CLASSES_WITH_FACES`)."""
    from mosaicflow.datasets.detection.faces import CLASSES_WITH_FACES

    return CLASSES_WITH_FACES if faces else CLASS_NAMES


def check_coco(
    coco_json: Path, folders: Sequence[Path], categories: Sequence[str] = CLASS_NAMES
) -> int:
    """Round-trip a COCO file through pycocotools against its masks, class by class.

    Args:
        coco_json: the split's COCO file.
        folders: the masks it was made from (``<stem>.png``), one folder per category.
        categories: the category names (id = index + 1).

    Returns:
        The number of annotations checked.

    Raises:
        ValueError: naming the file, image and category when a decoded mask differs.
    """
    from mosaicflow.formats.coco import load_coco

    coco = load_coco(coco_json)
    anns = coco.loadAnns(coco.getAnnIds())
    results = None
    if anns:
        with contextlib.redirect_stdout(io.StringIO()):
            results = coco.loadRes([{**a, "score": 1.0} for a in anns])
    for image_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(image_id)[0]
        for category, folder in enumerate(folders, start=1):
            truth = read_mask(Path(folder) / f"{Path(info['file_name']).stem}.png")
            for source, name in ((coco, "annToMask"), (results, "loadRes/annToMask")):
                decoded = np.zeros((info["height"], info["width"]), dtype=bool)
                if source is not None:
                    ids = source.getAnnIds(imgIds=[image_id], catIds=[category])
                    for ann in source.loadAnns(ids):
                        decoded |= source.annToMask(ann) > 0
                if not np.array_equal(decoded, truth):
                    diff = int(np.count_nonzero(decoded != truth))
                    raise ValueError(
                        f"{coco_json}: image {info['file_name']}: {name} differs from its "
                        f"{categories[category - 1]} mask in {diff} pixels"
                    )
    return len(anns)


def check_yolo(images_dir: Path, labels_dir: Path, names: Sequence[str] = CLASS_NAMES) -> int:
    """Verify every image/label pair with ultralytics' ``verify_image_label`` (segments).

    Call :func:`mosaicflow.yolo.offline.prepare_ultralytics` first (offline settings).

    Returns:
        The number of label lines (instances) verified.

    Raises:
        ValueError: naming the label file ultralytics rejects.
    """
    from ultralytics.data.utils import verify_image_label

    from mosaicflow.formats.images import list_images

    instances = 0
    for image in list_images(images_dir):
        label = Path(labels_dir) / f"{image.stem}.txt"
        out = verify_image_label((str(image), str(label), "", False, len(names), 0, 0, False))
        if out[0] is None or out[8]:  # corrupt
            raise ValueError(f"{label}: ultralytics rejects the label ({out[-1]})")
        instances += len(out[1])
    return instances
