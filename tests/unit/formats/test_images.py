"""The one list of image suffixes and the folder listing built on it."""

from __future__ import annotations

from mosaicflow.formats.images import IMAGE_SUFFIXES, is_image, list_images


def test_suffixes_are_lower_case_and_unique():
    assert len(set(IMAGE_SUFFIXES)) == len(IMAGE_SUFFIXES)
    assert all(s.startswith(".") and s == s.lower() for s in IMAGE_SUFFIXES)
    assert {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"} <= set(IMAGE_SUFFIXES)


def test_list_images_takes_image_files_of_any_case_only(tmp_path):
    for name in ("b.JPG", "a.png", "c.TiFF", "notes.txt", "d.webp.json", "e"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.jpg").mkdir()
    (tmp_path / "folder.jpg" / "inner.png").write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.JPG", "c.TiFF"]
    assert is_image(tmp_path / "x.WebP") and not is_image(tmp_path / "x.gif")
