"""Label formats (labelme, COCO, YOLO), exact converters between them, and dataset splits; the
ground-truth format of videos (:mod:`~mosaicflow.formats.truth`) and the image suffixes every
reader accepts (:mod:`~mosaicflow.formats.images`).

Coordinate convention shared by every module here: polygons are in continuous image
coordinates where pixel ``(row, col)`` covers ``[col, col + 1) x [row, row + 1)`` (the COCO and
labelme convention); YOLO divides them by the image width and height. A polygon is rasterised by
*centre sampling*: a pixel belongs to it when its centre ``(col + 0.5, row + 0.5)`` lies inside
the polygon (even-odd rule), which is also how ``pycocotools`` rasterises COCO polygons.
"""
