"""`mosaicflow review frames`: the page per video, its use in Chromium and its export, with a
stand-in segmenter on a small synthetic video."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from mosaicflow.curate import hard_frame_export, hard_frame_page
from mosaicflow.curate.hard_frames import Thresholds
from mosaicflow.formats.dataset import labelme_to_yolo, labelme_to_yolo_dataset
from mosaicflow.formats.labelme import list_labelme, read_labelme
from tests.browser import HeadlessChromium, chromium_path
from tests.helpers import write_video
from tests.unit.yolo.fakes import disc, fake_result

FRAMES = 24
SIZE = (96, 64)
#: The stand-in's best score per frame: a steady region, missing on frame 5 (flicker), weak on
#: 12-15 (a partial track), plus a low-confidence region on frame 20.
SCORES = {i: 0.9 for i in range(FRAMES)} | {5: None} | {i: 0.3 for i in range(12, 16)}


class StandInSegmenter:
    """Finds a disc on every frame with the scores of :data:`SCORES` (in the order frames
    are predicted), and the same disc at 0.9 when asked for full-resolution masks."""

    def __init__(self) -> None:
        self.names = {0: "nsfw"}
        self.predicted = 0

    def predict(self, images, **kwargs):
        results = []
        for image in images:
            height, width = image.shape[:2]
            region = disc(height, width, height // 2, width // 3, 10)
            if kwargs.get("retina_masks"):
                results.append(fake_result([region], [0.9]))
                continue
            score = SCORES[self.predicted]
            self.predicted += 1
            masks, scores = ([region], [score]) if score else ([], [])
            if self.predicted - 1 == 20:
                masks.append(disc(height, width, 10, width - 12, 6))
                scores.append(0.2)
            results.append(fake_result(masks, scores))
        return results


@pytest.fixture
def stand_in(monkeypatch):
    """Route `review_frames`' model loading to the stand-in, without ultralytics."""
    import mosaicflow.yolo.adapter as adapter

    model = StandInSegmenter()
    monkeypatch.setattr(adapter, "load_yolo", lambda path, task=None, origin=None: model)
    monkeypatch.setattr(adapter, "prepare_ultralytics", lambda config_dir, threads: None)
    return model


@pytest.fixture
def pages(tmp_path, stand_in) -> Path:
    video = write_video(tmp_path / "videos" / "clip one.mp4", frames=FRAMES, size=SIZE)
    model = tmp_path / "seg.pt"
    model.write_bytes(b"stand-in")
    out = tmp_path / "pages"
    result = hard_frame_page.review_frames(
        [video.parent],
        model,
        out,
        count=4,
        min_spacing=2,
        thresholds=Thresholds(found=0.25, confident=0.6, max_gap=3),
        settings=hard_frame_page.ModelSettings(lowest=0.1, imgsz=64, device="cpu"),
    )
    assert (result.videos, result.frames_predicted, result.frames_picked) == (1, FRAMES, 4)
    return out


def page_data(page: Path) -> dict:
    text = (page / "index.html").read_text(encoding="utf-8")
    start = text.index('id="page-data">') + len('id="page-data">')
    return json.loads(text[start : text.index("</script>", start)])


def test_the_page_shows_the_doubtful_frames_with_their_prelabels(pages):
    page = pages / "clip_one"
    data = page_data(page)
    frames = {f["frame"]: f for f in data["frames"]}
    assert frames[5]["reasons"] == ["flicker"]
    assert "partial_track" in frames[12]["reasons"] or "partial_track" in frames[13]["reasons"]
    assert frames[20]["reasons"] == ["low_confidence"]
    assert [f["weak"][0]["score"] for f in data["frames"] if f["frame"] == 20] == ["0.200"]
    for frame in data["frames"]:
        doc = read_labelme(page / f"{frame['stem']}.json", ["nsfw"])
        assert (doc.width, doc.height) == SIZE
        assert len(doc.shapes) == len(frame["shapes"]) == 1
        assert frame["stem"] == f"clip_one_{frame['frame']:06d}"
    assert data["page"] == str((pages / "clip_one").resolve())
    table = (pages / "picks.tsv").read_text().splitlines()
    assert table[0].split("\t") == ["video", "frame", "stem", "priority", "reasons", "notes"]
    assert len(table) == 1 + 4
    assert 'href="clip_one/index.html"' in (pages / "index.html").read_text()


def _chromium() -> str:
    binary = chromium_path()
    if binary is None:
        message = "Chromium is missing: run `make test-deps`"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (required in CI)")
        pytest.skip(message)
    return binary


def _downloaded(folder: Path, name: str, timeout: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (folder / name).is_file() and not list(folder.glob("*.crdownload")):
            return folder / name
        time.sleep(0.1)
    raise AssertionError(f"no {name} in {folder}: {sorted(p.name for p in folder.iterdir())}")


def test_tick_two_frames_in_chromium_export_and_train_on_them(pages, tmp_path):
    page = pages / "clip_one"
    stems = [f["stem"] for f in page_data(page)["frames"]]
    downloads = tmp_path / "downloads"
    with HeadlessChromium(_chromium(), downloads) as browser:
        browser.open(page.joinpath("index.html").as_uri(), "document.body.dataset.ready")
        browser.press("x")  # the first frame, by keyboard
        browser.press("j")
        browser.press("j")
        assert browser.evaluate("document.querySelector('figure.current').id") == "f-2"
        browser.click("#f-3 input[type=checkbox]")  # the fourth, by mouse
        assert browser.evaluate("document.getElementById('status').textContent").startswith(
            "2 of 4 ticked"
        )
        browser.press("k")  # space after a click on a box ticks the selected frame, not the box
        browser.press(" ", code="Space", key_code=32)
        assert browser.evaluate("document.querySelector('figure.current').id") == "f-2"
        assert browser.evaluate(
            "[...document.querySelectorAll('figure.ticked')].map(f => f.id)"
        ) == ["f-0", "f-2", "f-3"]
        browser.press(" ", code="Space", key_code=32)
        browser.press("o")
        assert browser.evaluate("document.body.classList.contains('bare')")
        browser.press("e")
        selection = _downloaded(downloads, "clip_one-selection.json")
    assert json.loads(selection.read_text())["frames"] == [stems[0], stems[3]]

    labelme = tmp_path / "to_correct"
    result = hard_frame_export.export_selections([selection], labelme)
    assert (result.frames, result.shapes) == (2, 2)
    files = list_labelme(labelme)
    assert [p.stem for p in files] == [stems[0], stems[3]]
    for path in files:
        assert read_labelme(path, ["nsfw"]).shapes[0].polygon.shape[1] == 2
        assert path.with_suffix(".jpg").read_bytes() == (page / f"{path.stem}.jpg").read_bytes()
    counts = labelme_to_yolo(labelme, ["nsfw"], tmp_path / "yolo")
    assert (counts["images"], counts["instances"]) == (2, 2)
    lines = (tmp_path / "yolo" / "labels" / f"{stems[0]}.txt").read_text().split()
    assert lines[0] == "0" and len(lines) >= 7 and all(0 <= float(v) <= 1 for v in lines[1:])
    # the region training set's own builder takes the export (a second one as validation)
    val = tmp_path / "val_frames"
    hard_frame_export.export_selections([_selection(tmp_path, page, stems[1:3])], val)
    built = labelme_to_yolo_dataset(
        [labelme], [val], ["nsfw"], tmp_path / "dataset", seed=0, strict=True
    )
    assert built.counts["train"]["instances"] == built.counts["val"]["instances"] == 2


def _selection(tmp_path: Path, where: Path, ticked: list[str], **changes) -> Path:
    doc = {
        "format": hard_frame_page.SELECTION_FORMAT,
        "version": hard_frame_page.SELECTION_VERSION,
        "video": "clip_one",
        "page": str(where),
        "frames": ticked,
    } | changes
    path = tmp_path / f"selection-{len(list(tmp_path.glob('selection-*')))}.json"
    path.write_text(json.dumps(doc))
    return path


def test_exports_are_checked_against_their_page(pages, tmp_path):
    page = pages / "clip_one"
    stems = [f["stem"] for f in page_data(page)["frames"]]
    out = tmp_path / "out"
    cases = [
        ({"format": "something-else"}, "not a selection exported"),
        ({"version": 9}, "selection version 9"),
        ({"frames": []}, "no frame ticked"),
        ({"frames": ["clip_one_000999"]}, "frame 'clip_one_000999' is not on the page"),
        ({"video": "clip_two"}, "exported from the page of clip_two"),
        ({"page": str(tmp_path / "moved")}, "is gone"),
    ]
    for changes, message in cases:
        selection = _selection(tmp_path, page, stems[:1], **changes)
        with pytest.raises(ValueError, match=message):
            hard_frame_export.export_selections([selection], out)
        assert not out.exists()
    moved = _selection(tmp_path, tmp_path / "moved", stems[:1])
    assert hard_frame_export.export_selections([moved], out, pages=pages).frames == 1
    twice = [_selection(tmp_path, page, stems[:1]), _selection(tmp_path, page, stems[1:2])]
    with pytest.raises(ValueError, match="a second selection of clip_one"):
        hard_frame_export.export_selections(twice, tmp_path / "out2")


def test_the_export_never_writes_over_the_users_files(pages, tmp_path):
    page = pages / "clip_one"
    stems = [f["stem"] for f in page_data(page)["frames"]]
    selection = _selection(tmp_path, page, stems[:2])
    mine = tmp_path / "my_labels"
    mine.mkdir()
    (mine / "frame.json").write_text("{}")
    with pytest.raises(ValueError, match="not an earlier output"):
        hard_frame_export.export_selections([selection], mine)
    assert [p.name for p in mine.iterdir()] == ["frame.json"]
    with pytest.raises(ValueError, match="lies inside the input"):
        hard_frame_export.export_selections([selection], page / "export")
    out = tmp_path / "export"
    hard_frame_export.export_selections([selection], out)
    again = _selection(tmp_path, page, stems[2:3])
    assert hard_frame_export.export_selections([again], out).frames == 1  # its own output
    assert [p.stem for p in list_labelme(out)] == [stems[2]]


def test_review_frames_refuses_what_it_cannot_use(tmp_path, stand_in):
    model = tmp_path / "seg.pt"
    model.write_bytes(b"stand-in")
    video = write_video(tmp_path / "a.mp4", frames=4, size=SIZE)
    with pytest.raises(ValueError, match="video not found"):
        hard_frame_page.review_frames([tmp_path / "missing.mp4"], model, tmp_path / "o")
    with pytest.raises(ValueError, match="model file not found"):
        hard_frame_page.review_frames([video], tmp_path / "none.pt", tmp_path / "o")
    other = write_video(tmp_path / "sub" / "a.mp4", frames=4, size=SIZE)
    with pytest.raises(ValueError, match="gives the page id 'a'"):
        hard_frame_page.review_frames([video, other], model, tmp_path / "o")
    with pytest.raises(ValueError, match="lies inside the input"):
        hard_frame_page.review_frames([tmp_path / "sub"], model, tmp_path / "sub" / "o")
    with pytest.raises(ValueError, match=r"--count \(0\) must be at least 1"):
        hard_frame_page.review_frames([video], model, tmp_path / "o", count=0)
    with pytest.raises(ValueError, match=r"--max-frames \(0\) must be"):
        settings = hard_frame_page.ModelSettings(max_frames=0)
        hard_frame_page.review_frames([video], model, tmp_path / "o", settings=settings)
    settings = hard_frame_page.ModelSettings(lowest=0.5)
    with pytest.raises(ValueError, match=r"--lowest \(0.5\)"):
        hard_frame_page.review_frames([video], model, tmp_path / "o", settings=settings)
    assert not (tmp_path / "o").exists()


def test_names_and_paths_cannot_break_out_of_the_page():
    hostile = "v__DATA__</script><!--<script><img src=x onerror=alert(1)>"
    text = hard_frame_page.page_html({"video": hostile, "source": hostile, "frames": []})
    assert text.count("</script>") == 2 and "<!--" not in text
    assert "<img src=x" not in text
    assert "v__DATA__&lt;/script&gt;" in text  # the title, escaped, placeholders left alone
    start = text.index('id="page-data">') + len('id="page-data">')
    assert json.loads(text[start : text.index("</script>", start)])["source"] == hostile
