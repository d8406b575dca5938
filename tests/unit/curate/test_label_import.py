"""Corrected labelme frames back into the region training set: checks, counts, overrides."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from mosaicflow.curate.label_import import LabelImportError, import_labels, shape_changes
from mosaicflow.curate.label_issue_jobs import export_flagged, image_name
from mosaicflow.curate.label_issues import label_boxes, rank_frames
from mosaicflow.curate.label_overrides import override_paths
from mosaicflow.formats.dataset import labelme_to_yolo_dataset, read_labelme_dirs
from mosaicflow.formats.labelme import read_labelme
from mosaicflow.io import write_json

SQUARE = [[10.0, 10.0], [40.0, 10.0], [40.0, 40.0], [10.0, 40.0]]


def _shape(points, label="nsfw"):
    return {"label": label, "points": points, "shape_type": "polygon"}


def _doc(name, shapes):
    return {
        "version": "5.5.0", "flags": {"sfw": not shapes}, "imagePath": f"{name}.jpg",
        "imageData": None, "imageWidth": 96, "imageHeight": 64, "shapes": shapes,
    }  # fmt: skip


@pytest.fixture
def run(tmp_path, monkeypatch):
    """A run folder: a labelme training folder of four frames of video ``v`` and the finder's
    export of the two it flags (frames 2 and 3)."""
    monkeypatch.chdir(tmp_path)
    train = tmp_path / "results" / "labelme"
    train.mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(train / f"v_{i:06d}.jpg"), np.full((64, 96, 3), 50 * i, np.uint8))
        write_json(train / f"v_{i:06d}.json", _doc(f"v_{i:06d}", [_shape(SQUARE)]))
    frames = read_labelme_dirs([train.relative_to(tmp_path)], ["nsfw"], "sfw")
    preds = [[np.array([[10, 10, 40, 40, 0.9]])]] * 2 + [[np.zeros((0, 5))]] * 2
    names = [(source, image_name(f)) for source, f in frames]
    table = rank_frames(names, [label_boxes(f) for _, f in frames], preds, 0.5)
    export = tmp_path / "results" / "review" / "labelme"
    export_flagged(table, frames, export, 10, ["nsfw"], "sfw")
    return tmp_path


def _edit(folder, name, shapes):
    path = folder / name
    doc = json.loads(path.read_text())
    doc["shapes"] = shapes
    doc["flags"] = {"sfw": not shapes}
    path.write_text(json.dumps(doc))


def test_edited_frames_become_overrides_and_the_dataset_reads_them(run):
    export = run / "results" / "review" / "labelme"
    edited = run / "edited"
    shutil.copytree(export, edited)
    names = sorted(p.name for p in edited.glob("0*.json"))
    assert len(names) == 2
    moved = [[x + 30, y] for x, y in SQUARE]
    _edit(edited, names[0], [_shape(moved), _shape([[60, 5], [90, 5], [90, 30], [60, 30]])])
    overrides = run / "results" / "review" / "label_overrides"

    result = import_labels(edited, overrides)
    assert result.changed and result.version == 1
    assert result.counts == {"frames": 2, "changed": 1, "moved": 1, "added": 1, "deleted": 0}
    record = json.loads((overrides / "overrides.json").read_text())
    source = json.loads((export / "export.json").read_text())["frames"][0]["source"]
    assert list(record["frames"]) == [source]
    assert record["imports"][0]["changed"] == 1

    # a second import of the same folder changes nothing and writes nothing
    before = {p.name: p.read_bytes() for p in overrides.iterdir()}
    again = import_labels(edited, overrides)
    assert not again.changed and again.version == 1
    assert {p.name: p.read_bytes() for p in overrides.iterdir()} == before

    # the region dataset reads the corrected frame in place of the training frame
    mapping = override_paths(overrides)
    assert set(mapping) == {source}
    # (the rule passes the folders and the overrides as the run names them, relative to it)
    out = labelme_to_yolo_dataset(
        [Path("results/labelme")], [], ["nsfw"], run / "ds", 1, val_fraction=0.0,
        overrides=override_paths(Path("results/review/label_overrides")),
    )  # fmt: skip
    assert out.counts["train"]["instances"] == 5
    assert json.loads((run / "ds" / "provenance.json").read_text())["overrides"] == 1
    # the training frames themselves are never modified
    assert json.loads((run / source).read_text())["shapes"] == [_shape(SQUARE)]


def test_labelme_embedding_the_image_is_read_from_the_file_beside_it(run):
    import base64

    export = run / "results" / "review" / "labelme"
    name = sorted(p.name for p in export.glob("0*.json"))[0]
    doc = json.loads((export / name).read_text())
    # labelme (store_data) embeds the image, re-encoded: the exported file beside it is checked
    _, png = cv2.imencode(".png", cv2.imread(str(export / doc["imagePath"])))
    doc["imageData"] = base64.b64encode(png.tobytes()).decode()
    doc["shapes"] = []
    doc["flags"] = {"sfw": True}
    (export / name).write_text(json.dumps(doc))
    overrides = run / "results" / "review" / "label_overrides"
    assert import_labels(export, overrides).counts["deleted"] == 1
    (override,) = override_paths(overrides).values()
    written = json.loads(override.read_text())
    assert written["imageData"] is None
    assert (override.parent / written["imagePath"]).read_bytes() == (
        export / doc["imagePath"]
    ).read_bytes()


def test_an_export_older_than_a_correction_is_refused(run):
    export = run / "results" / "review" / "labelme"
    overrides = run / "results" / "review" / "label_overrides"
    name = sorted(p.name for p in export.glob("0*.json"))[0]
    first, second = run / "first", run / "second"
    shutil.copytree(export, first)
    shutil.copytree(export, second)
    _edit(first, name, [])
    assert import_labels(first, overrides).changed
    _edit(second, name, [_shape([[50, 5], [90, 5], [90, 30], [50, 30]])])
    with pytest.raises(LabelImportError, match="was corrected after this export"):
        import_labels(second, overrides)
    assert import_labels(first, overrides).changed is False  # the same folder again: no change


def test_a_deleted_polygon_and_an_emptied_frame_are_counted(run):
    export = run / "results" / "review" / "labelme"
    name = sorted(p.name for p in export.glob("0*.json"))[1]
    _edit(export, name, [])  # the reviewer removes the only polygon, in place
    result = import_labels(export, run / "results" / "review" / "label_overrides")
    assert result.counts == {"frames": 2, "changed": 1, "moved": 0, "added": 0, "deleted": 1}
    (override,) = override_paths(run / "results" / "review" / "label_overrides").values()
    assert read_labelme(override, ["nsfw"], "sfw").empty_flag


def _refused(folder, overrides, match):
    with pytest.raises(LabelImportError, match=match):
        import_labels(folder, overrides)
    assert not overrides.exists()


def test_bad_folders_are_refused_naming_the_file_and_nothing_is_written(run):
    export = run / "results" / "review" / "labelme"
    overrides = run / "results" / "review" / "label_overrides"
    names = sorted(p.name for p in export.glob("0*.json"))

    stray = run / "stray"
    shutil.copytree(export, stray)
    write_json(stray / "other.json", _doc("other", []))
    _refused(stray, overrides, r"other\.json: not one of the exported frames")

    replaced = run / "replaced"
    shutil.copytree(export, replaced)
    image = json.loads((replaced / names[0]).read_text())["imagePath"]
    cv2.imwrite(str(replaced / image), np.full((64, 96, 3), 255, np.uint8))
    _refused(replaced, overrides, rf"{names[0]}: its image .* differs from the exported one")

    no_image = run / "no_image"
    shutil.copytree(export, no_image)
    (no_image / image).unlink()
    _refused(no_image, overrides, rf"{names[0]}: image '.*' not found")

    bad_record = run / "bad_record"
    shutil.copytree(export, bad_record)
    listing = json.loads((bad_record / "export.json").read_text())
    del listing["frames"][1]["labels_sha256"]
    (bad_record / "export.json").write_text(json.dumps(listing))
    _refused(bad_record, overrides, r"export\.json: frame record 1 must hold the strings")

    escaping = run / "escaping"
    shutil.copytree(export, escaping)
    doc = json.loads((escaping / names[0]).read_text())
    doc["imagePath"] = "../outside.jpg"
    (escaping / names[0]).write_text(json.dumps(doc))
    _refused(escaping, overrides, rf"{names[0]}: imagePath .* leaves the annotation folder")

    malformed = run / "malformed"
    shutil.copytree(export, malformed)
    (malformed / names[1]).write_text("{not json")
    _refused(malformed, overrides, rf"{names[1]}: malformed labelme JSON")

    foreign = run / "foreign"
    shutil.copytree(export, foreign)
    (foreign / "export.json").write_text(json.dumps({"version": 99}))
    _refused(foreign, overrides, r"export\.json: not a label-issue export")

    source = json.loads((export / "export.json").read_text())["frames"][0]["source"]
    (run / source).write_text((run / source).read_text().replace("10.0", "11.0", 1))
    _refused(export, overrides, "changed since the export")


def test_shape_changes_match_shapes_by_overlap():
    from mosaicflow.formats.labelme import LabelmeShape

    def shape(x, label="nsfw"):
        return LabelmeShape(label, 0, np.array([[x, 0], [x + 10, 0], [x + 10, 10], [x, 10.0]]))

    assert shape_changes([shape(0)], [shape(0)]) == {"moved": 0, "added": 0, "deleted": 0}
    assert shape_changes([shape(0)], [shape(2)]) == {"moved": 1, "added": 0, "deleted": 0}
    assert shape_changes([shape(0)], [shape(50)]) == {"moved": 1, "added": 0, "deleted": 0}
    assert shape_changes([shape(0), shape(50)], [shape(1)]) == {
        "moved": 1, "added": 0, "deleted": 1,
    }  # fmt: skip
    assert shape_changes([shape(0)], [shape(0, "other")]) == {"moved": 0, "added": 1, "deleted": 1}


def test_cli_imports_then_reports_no_change_and_refuses_a_bad_folder(run, capsys):
    from mosaicflow.cli import main

    export = run / "results" / "review" / "labelme"
    name = sorted(p.name for p in export.glob("0*.json"))[0]
    _edit(export, name, [])
    assert main(["review", "import-labels", str(export), "--results", "results"]) == 0
    assert "label overrides version 1" in capsys.readouterr().out
    assert main(["review", "import-labels", str(export), "--results", "results"]) == 0
    assert "no change" in capsys.readouterr().out
    assert main(["review", "import-labels", str(run / "nowhere"), "--results", "results"]) == 2
    assert "export.json: not found" in capsys.readouterr().err


def test_cli_finds_the_frames_however_results_is_spelled(run, capsys, monkeypatch):
    from mosaicflow.cli import main

    export = run / "results" / "review" / "labelme"
    name = sorted(p.name for p in export.glob("0*.json"))[0]
    _edit(export, name, [])
    monkeypatch.chdir(run / "results")
    assert main(["review", "import-labels", str(export), "--results", "."]) == 0, (
        capsys.readouterr()
    )
    assert "label overrides version 1" in capsys.readouterr().out
    monkeypatch.chdir(run)
    assert main(["review", "import-labels", str(export), "--results", "results/review/.."]) == 0
    assert "no change" in capsys.readouterr().out
    scratch = run.parent / "scratch"  # results/ a link to another disk, as on a cluster
    (run / "results").rename(scratch)
    (run / "results").symlink_to(scratch)
    _edit(Path("results/review/labelme"), sorted(p.name for p in export.glob("0*.json"))[1], [])
    assert main(["review", "import-labels", "results/review/labelme"]) == 0, capsys.readouterr()
    assert "label overrides version 2" in capsys.readouterr().out


def test_two_frames_of_one_name_in_two_folders_are_refused_not_merged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folders = [tmp_path / "results" / name for name in ("setA", "setB")]
    for shade, folder in enumerate(folders):
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / "clip_000001.jpg"), np.full((64, 96, 3), 60 + shade, np.uint8))
        write_json(folder / "clip_000001.json", _doc("clip_000001", [_shape(SQUARE)]))
    frames = read_labelme_dirs([f.relative_to(tmp_path) for f in folders], ["nsfw"], "sfw")
    names = [(source, image_name(f)) for source, f in frames]
    table = rank_frames(names, [label_boxes(f) for _, f in frames], [[np.zeros((0, 5))]] * 2, 0.5)
    export = tmp_path / "results" / "review" / "labelme"
    records = export_flagged(table, frames, export, 10, ["nsfw"], "sfw")
    for record in records:  # each corrected its own way: one override file would keep one
        shift = 20 if "setA" in record["source"] else 30
        _edit(export, record["file"], [_shape([[x + shift, y] for x, y in SQUARE])])
    overrides = tmp_path / "results" / "review" / "label_overrides"
    with pytest.raises(LabelImportError, match=r"training frames .*setA/clip_000001\.json and "
                       r".*setB/clip_000001\.json have one name"):  # fmt: skip
        import_labels(export, overrides, tmp_path)
    assert not overrides.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("file", "../outside/x.json", "is not a file name of that folder"),
        ("file", "/etc/passwd", "is not a file name of that folder"),
        ("labels_file", "/etc/passwd", "is neither its training frame"),
    ],
)
def test_an_export_naming_files_elsewhere_is_refused(run, field, value, message):
    export = run / "results" / "review" / "labelme"
    doc = json.loads((export / "export.json").read_text())
    doc["frames"].append({**doc["frames"][0], field: value})  # listed beside the real ones
    (export / "export.json").write_text(json.dumps(doc))
    overrides = run / "results" / "review" / "label_overrides"
    with pytest.raises(LabelImportError, match=message):
        import_labels(export, overrides, run)
    assert not overrides.exists()
