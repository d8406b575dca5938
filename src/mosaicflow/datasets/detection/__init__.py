"""The mosaic detection dataset: frames with synthetic mosaics, labelled by their mosaic masks.

One job per video (:func:`~mosaicflow.datasets.detection.build.build_video_samples`) samples kept
frames spread over scenes (:mod:`.sampling`), drops near-duplicates by perceptual hash
(:mod:`.dedup`), pixelates the regions with :mod:`mosaicflow.mosaic` and degrades whole frames
(:mod:`.synth`), and writes images, mosaic masks and a manifest. One aggregate job
(:func:`~mosaicflow.datasets.detection.aggregate.build_detection_dataset`) splits by source video
(:mod:`.split`), writes COCO per split checked with pycocotools and YOLO-seg labels
(:mod:`.labels`), ``data.yaml`` and a provenance sidecar. :mod:`.testset` draws mosaics over every
frame of the demo's test videos for the detector's test.

Importing this package imports nothing heavy.
"""
