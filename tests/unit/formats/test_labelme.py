"""labelme reading: shapes, flags, images, and every refusal names the file."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mosaicflow.formats.labelme import circle_polygon, read_labelme
from mosaicflow.formats.masks import polygon_area

from .helpers import labelme_shape, make_labelme

LABELS = ["nsfw", "other"]
SQUARE = [[4, 4], [20, 4], [20, 16], [4, 16]]


def test_polygon_rectangle_circle_become_polygons(tmp_path):
    path = make_labelme(
        tmp_path,
        "frame-000001",
        [
            labelme_shape("nsfw", SQUARE),
            labelme_shape("other", [[30, 20], [10, 5]], "rectangle"),
            labelme_shape("nsfw", [[40, 24], [40, 34]], "circle"),
            labelme_shape("face", SQUARE),  # not a configured label: ignored
        ],
    )
    frame = read_labelme(path, LABELS)
    assert (frame.width, frame.height) == (64, 48)
    assert [s.class_id for s in frame.shapes] == [0, 1, 0]
    assert frame.ignored == 1 and not frame.empty_flag
    rect = frame.shapes[1].polygon
    assert rect.tolist() == [[10, 5], [30, 5], [30, 20], [10, 20]]
    circle = frame.shapes[2].polygon
    assert abs(polygon_area(circle) / (np.pi * 100) - 1) < 0.01
    assert frame.image_suffix == ".jpg"
    assert frame.image_bytes == (tmp_path / "frame-000001.jpg").read_bytes()


def test_circle_polygon_grows_with_radius():
    assert len(circle_polygon([0, 0], [1, 0])) == 16
    assert len(circle_polygon([0, 0], [50, 0])) > 100


def test_empty_flag_and_no_shapes(tmp_path):
    flagged = make_labelme(tmp_path, "a-1", [labelme_shape("nsfw", SQUARE)], flags={"sfw": True})
    frame = read_labelme(flagged, LABELS, "sfw")
    assert frame.shapes == () and frame.empty_flag and frame.ignored == 1
    assert read_labelme(flagged, LABELS, None).shapes != ()
    assert read_labelme(make_labelme(tmp_path, "a-2"), LABELS).shapes == ()


def test_embedded_image_data(tmp_path):
    path = make_labelme(
        tmp_path, "emb-1", [labelme_shape("nsfw", SQUARE)], embed=True, suffix=".png"
    )
    assert not (tmp_path / "emb-1.png").exists()
    frame = read_labelme(path, LABELS)
    assert frame.image_suffix == ".png" and len(frame.shapes) == 1


@pytest.mark.parametrize(
    ("kind", "points"),
    [("line", [[0, 0], [5, 5]]), ("point", [[1, 1]]), ("linestrip", [[0, 0], [1, 1], [2, 0]])],
)
def test_unsupported_shapes_are_rejected_naming_file_and_shape(tmp_path, kind, points):
    path = make_labelme(
        tmp_path, "bad-1", [labelme_shape("nsfw", SQUARE), labelme_shape("nsfw", points, kind)]
    )
    with pytest.raises(ValueError, match=rf"bad-1\.json: shape #1 .*'{kind}' is not supported"):
        read_labelme(path, LABELS)


def test_degenerate_and_outside_shapes(tmp_path):
    two = make_labelme(tmp_path, "two-1", [labelme_shape("nsfw", [[0, 0], [3, 3]])])
    with pytest.raises(ValueError, match=r"two-1\.json: shape #0.*at least 3 points"):
        read_labelme(two, LABELS)
    outside = make_labelme(
        tmp_path, "out-1", [labelme_shape("nsfw", [[100, 100], [120, 100], [120, 130]])]
    )
    with pytest.raises(ValueError, match=r"out-1\.json: shape #0.*no area inside the image"):
        read_labelme(outside, LABELS)


def test_malformed_json_names_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"shapes": [')
    with pytest.raises(ValueError, match=r"broken\.json: malformed labelme JSON"):
        read_labelme(path, LABELS)
    path.write_text("[]")
    with pytest.raises(ValueError, match=r"broken\.json: .*JSON object"):
        read_labelme(path, LABELS)


def _set_image_path(path, value):
    doc = json.loads(path.read_text())
    doc["imagePath"] = value
    path.write_text(json.dumps(doc))


def test_image_path_escaping_the_folder_is_refused(tmp_path):
    inner = tmp_path / "ann"
    path = make_labelme(inner, "f-1", [labelme_shape("nsfw", SQUARE)])
    outside = tmp_path / "secret.jpg"
    outside.write_bytes((inner / "f-1.jpg").read_bytes())

    _set_image_path(path, str(outside))
    with pytest.raises(ValueError, match=r"f-1\.json: imagePath .* absolute"):
        read_labelme(path, LABELS)
    _set_image_path(path, "../secret.jpg")
    with pytest.raises(ValueError, match=r"f-1\.json: imagePath .* leaves the annotation folder"):
        read_labelme(path, LABELS)
    _set_image_path(path, "sub\\..\\..\\secret.jpg")
    with pytest.raises(ValueError, match=r"f-1\.json: imagePath .* leaves"):
        read_labelme(path, LABELS)
    os.symlink(outside, inner / "link.jpg")
    _set_image_path(path, "link.jpg")
    with pytest.raises(ValueError, match=r"f-1\.json: imagePath 'link.jpg' resolves outside"):
        read_labelme(path, LABELS)
    # a symlink that stays inside the folder is fine
    os.symlink(inner / "f-1.jpg", inner / "inside.jpg")
    _set_image_path(path, "inside.jpg")
    assert len(read_labelme(path, LABELS).shapes) == 1


def test_missing_or_wrong_size_image(tmp_path):
    path = make_labelme(tmp_path, "m-1", [labelme_shape("nsfw", SQUARE)])
    doc = json.loads(path.read_text())
    doc["imageWidth"] = 65
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"m-1\.json: imageWidth x imageHeight 65x48 differ"):
        read_labelme(path, LABELS)
    (tmp_path / "m-1.jpg").unlink()
    with pytest.raises(ValueError, match=r"m-1\.json: image 'm-1\.jpg' not found"):
        read_labelme(path, LABELS)
    (tmp_path / "m-1.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"m-1\.json: the image cannot be decoded"):
        read_labelme(path, LABELS)


def test_fields_of_the_wrong_type_are_named_not_a_traceback(tmp_path):
    path = make_labelme(tmp_path, "t-1", [labelme_shape("nsfw", SQUARE)])
    good = json.loads(path.read_text())
    for change, message in (
        (lambda d: d["shapes"][0].update(label=["nsfw"]), r"shape #0 is not .* text 'label'"),
        (lambda d: d.update(imageWidth=[64]), r"imageWidth and imageHeight must be whole"),
        (lambda d: d.update(imageHeight="abc"), r"imageWidth and imageHeight must be whole"),
        (lambda d: d.update(imagePath="t\x00.jpg"), r"imagePath .* NUL character"),
    ):
        doc = json.loads(json.dumps(good))
        change(doc)
        path.write_text(json.dumps(doc))
        with pytest.raises(ValueError, match=rf"t-1\.json: {message}"):
            read_labelme(path, LABELS)
    os.symlink(tmp_path / "loop.jpg", tmp_path / "loop.jpg")  # a link to itself
    path.write_text(json.dumps(good | {"imagePath": "loop.jpg"}))
    with pytest.raises(ValueError, match=r"t-1\.json: imagePath 'loop\.jpg' cannot be resolved"):
        read_labelme(path, LABELS)


def test_a_truncated_image_is_refused(tmp_path):
    path = make_labelme(tmp_path, "c-1", [labelme_shape("nsfw", SQUARE)])
    image = tmp_path / "c-1.jpg"
    image.write_bytes(image.read_bytes()[: image.stat().st_size * 2 // 3])
    with pytest.raises(ValueError, match=r"c-1\.json: the image cannot be decoded .*truncated"):
        read_labelme(path, LABELS)


def test_numbers_too_large_and_nesting_too_deep_are_named_not_tracebacks(tmp_path):
    huge = make_labelme(tmp_path, "huge-1", [labelme_shape("nsfw", SQUARE)])
    doc = json.loads(huge.read_text())
    doc["shapes"][0]["points"][0][0] = 10**400  # a whole number no float holds
    huge.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"huge-1\.json: shape #0.*malformed 'points'"):
        read_labelme(huge, LABELS)
    wide = make_labelme(tmp_path, "wide-1", [labelme_shape("nsfw", SQUARE)])
    doc = json.loads(wide.read_text())
    doc["imageWidth"] = float("inf")
    wide.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"wide-1\.json: imageWidth and imageHeight must be whole"):
        read_labelme(wide, LABELS)
    deep = tmp_path / "deep-1.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"deep-1\.json: malformed labelme JSON"):
        read_labelme(deep, LABELS)
