"""The review round trip: export the top clips, read Label Studio's verdicts back, drop them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pandas as pd
import pytest

from mosaicflow.curate.clip_jobs import score_video_clips
from mosaicflow.curate.clip_ranking import rank_clips
from mosaicflow.curate.clip_signals import read_signals
from mosaicflow.curate.config import ReviewConfig
from mosaicflow.curate.review_export import CHOICE_NAME, VIDEO_NAME, clip_sha256, export_review
from mosaicflow.curate.review_import import ReviewImportError, import_review, read_label_studio
from mosaicflow.curate.verdicts import dropped_clips, read_verdicts
from mosaicflow.datasets.clips.index import REVIEW_REASON, drop_reviewed

from .conftest import VIDEO_IDS, Dataset, build_dataset


def label_studio_export(tasks: list[dict], verdicts: dict[str, str]) -> list[dict]:
    """Tasks as Label Studio's JSON export gives them back, with one annotation per verdict (and
    a cancelled and an older annotation that must not count)."""
    out = []
    for number, task in enumerate(tasks, start=1):
        clip = task["data"]["clip"]
        annotations = []
        if clip in verdicts:
            other = "keep" if verdicts[clip] == "drop" else "drop"

            def result(choice):
                return [{"id": "a1", "type": "choices", "from_name": CHOICE_NAME,
                         "to_name": VIDEO_NAME, "origin": "manual",
                         "value": {"choices": [choice]}}]  # fmt: skip

            annotations = [
                {"id": 3 * number, "result": result(other), "was_cancelled": False,
                 "updated_at": "2026-11-20T10:00:00.000000Z"},
                {"id": 3 * number + 1, "result": result(verdicts[clip]), "was_cancelled": False,
                 "updated_at": "2026-11-21T10:00:00.000000Z"},
                {"id": 3 * number + 2, "result": result(other), "was_cancelled": True,
                 "updated_at": "2026-11-22T10:00:00.000000Z"},
            ]  # fmt: skip
        out.append({"id": number, "data": task["data"], "annotations": annotations,
                    "predictions": [], "project": 1})  # fmt: skip
    return out


@pytest.fixture()
def run(tmp_path: Path) -> Dataset:
    """A private copy of a dataset with its signals, ranking and export."""
    data = build_dataset(tmp_path)
    signals = []
    for video in VIDEO_IDS:
        out = tmp_path / "signals" / f"{video}.parquet"
        score_video_clips(data.manifest(video), data.sources[video].regions, out)
        signals.append(out)
    ranked, _ = rank_clips(read_signals(signals), None, ReviewConfig(), seed=0)
    ranked.to_parquet(tmp_path / "ranked.parquet")
    export_review(
        ranked, data.root, tmp_path / "export", top_k=5, url_root="review/videos",
        sheet=tmp_path / "top_clips.png",
    )  # fmt: skip
    return data


def tasks_of(folder: Path) -> list[dict]:
    return json.loads((folder / "export" / "tasks.json").read_text())


def test_export_holds_tasks_previews_sheets_and_a_page(run: Dataset):
    export = run.root.parent / "export"
    tasks = tasks_of(run.root.parent)
    ranked = pd.read_parquet(run.root.parent / "ranked.parquet")
    assert [t["data"]["clip"] for t in tasks] == ranked["clip"].head(5).tolist()
    for task in tasks:
        data = task["data"]
        clip = data["clip"]
        assert data[VIDEO_NAME] == f"/data/local-files/?d=review/videos/{clip}.mp4"
        assert (export / "videos" / f"{clip}.mp4").stat().st_size > 0
        assert (export / "sheets" / f"{clip}.jpg").stat().st_size > 0
        path = run.index.set_index("clip").loc[clip, "clip_path"]
        assert data["clip_sha256"] == clip_sha256(run.root / path)
    config = (export / "labeling_config.xml").read_text()
    assert f'name="{CHOICE_NAME}"' in config and "$video" in config
    page = (export / "review.html").read_text()
    positions = [page.index(t["data"]["clip"]) for t in tasks]
    assert positions == sorted(positions)
    summary = cv2.imread(str(run.root.parent / "top_clips.png"))
    assert summary is not None and summary.shape[0] > 5 * 128
    manifest = json.loads((export / "export.json").read_text())
    assert set(manifest["clips"]) == {t["data"]["clip"] for t in tasks}


def test_import_round_trip_and_a_second_import_is_a_no_op(run: Dataset, tmp_path: Path):
    tasks = tasks_of(run.root.parent)
    clips = [t["data"]["clip"] for t in tasks]
    verdicts = {clips[0]: "drop", clips[1]: "keep", clips[2]: "drop"}
    export = tmp_path / "ls" / "project-1.json"
    export.parent.mkdir()
    export.write_text(json.dumps(label_studio_export(tasks, verdicts)))
    review = tmp_path / "review"
    result = import_review([export.parent], review, run.root)
    assert result.changed and result.version == 1
    assert result.counts == {"kept": 1, "dropped": 2, "changed": 0, "unchanged": 0}
    table = read_verdicts(review / "verdicts.parquet")
    assert dict(zip(table["clip"], table["verdict"], strict=True)) == verdicts
    assert sorted(dropped_clips(table)) == sorted([clips[0], clips[2]])
    stamp = (review / "verdicts.parquet").stat().st_mtime_ns
    again = import_review([export], review, run.root)
    assert not again.changed and again.version == 1
    assert again.counts == {"kept": 0, "dropped": 0, "changed": 0, "unchanged": 3}
    assert (review / "verdicts.parquet").stat().st_mtime_ns == stamp
    # a flipped verdict in a JSON-MIN export: version 2, counted as changed
    minimal = tmp_path / "min.json"
    minimal.write_text(json.dumps([{**tasks[1]["data"], "id": 2, CHOICE_NAME: "drop"}]))
    third = import_review([minimal], review, run.root)
    assert third.changed and third.version == 2 and third.counts["changed"] == 1
    state = json.loads((review / "verdicts.json").read_text())
    assert [i["version"] for i in state["imports"]] == [1, 2]
    # the index drops the clips with a drop verdict, for the reason "review"
    drops = dropped_clips(read_verdicts(review / "verdicts.parquet"))
    index = drop_reviewed(run.index, drops, run.root)
    dropped = index[index["reason"] == REVIEW_REASON]
    assert sorted(dropped["clip"]) == sorted(clips[:3])
    assert not dropped["kept"].any() and (dropped["status"] == "filtered").all()
    assert index["split"].tolist() == run.index["split"].tolist()


def write(path: Path, payload) -> Path:
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


@pytest.mark.parametrize(
    "payload, match",
    [
        ("[{", "not a Label Studio JSON export"),
        ({"tasks": []}, "JSON list of tasks"),
        ([{"data": {"video": "x.mp4"}}], "not a task of mosaicflow"),
        ([{"data": {"clip": "c", "clip_sha256": "0"}, CHOICE_NAME: "maybe"}], "neither"),
        ([{"data": {"clip": "c", "clip_sha256": "0"}, "annotations": [{"result": 3}]}],
         "result list"),
        ([{"data": {"clip": "c", "clip_sha256": "0"}, "annotations": "keep"}],
         "'annotations' is a list"),
        ([{"data": {"clip": "c", "clip_sha256": "0"}, "annotations": {"result": []}}],
         "'annotations' is a list"),
        ([{"data": {"clip": "c", "clip_sha256": "0"}, "annotations": [5]}], "result list"),
    ],
)  # fmt: skip
def test_malformed_exports_are_refused_naming_the_file(tmp_path: Path, payload, match):
    path = write(tmp_path / "export.json", payload)
    with pytest.raises(ReviewImportError, match=match) as err:
        read_label_studio(path)
    assert "export.json" in str(err.value)


def test_the_latest_annotation_wins_whatever_its_ids(tmp_path: Path):
    def answer(choice, id_, at="2026-01-01"):
        result = [{"from_name": CHOICE_NAME, "value": {"choices": [choice]}}]
        return {"id": id_, "updated_at": at, "result": result}

    task = {"data": {"clip": "c", "clip_sha256": "0"}}
    for answers, verdict in (
        ([answer("drop", 9), answer("keep", 10)], "keep"),  # 10 after 9, not as text
        ([answer("keep", 2), answer("drop", "b7")], "drop"),  # a text id: no crash
        ([answer("drop", 3, "2026-02-01"), answer("keep", 4)], "drop"),  # the later edit
    ):
        path = write(tmp_path / "export.json", [task | {"annotations": answers}])
        assert read_label_studio(path)[0]["verdict"] == verdict


def test_exports_of_another_dataset_change_nothing(dataset: Dataset, tmp_path: Path):
    review = tmp_path / "review"
    clip = dataset.index["clip"].iloc[0]
    sha = clip_sha256(dataset.root / dataset.index["clip_path"].iloc[0])
    unknown = write(
        tmp_path / "other.json",
        [{"clip": "elsewhere-000001", "clip_sha256": sha, CHOICE_NAME: "drop"}],
    )
    with pytest.raises(ReviewImportError, match=r"other\.json.*another dataset"):
        import_review([unknown], review, dataset.root)
    stale = write(
        tmp_path / "stale.json", [{"clip": clip, "clip_sha256": "f" * 64, CHOICE_NAME: "drop"}]
    )
    with pytest.raises(ReviewImportError, match=r"stale\.json.*another version"):
        import_review([stale], review, dataset.root)
    good = write(tmp_path / "good.json", [{"clip": clip, "clip_sha256": sha, CHOICE_NAME: "drop"}])
    with pytest.raises(ReviewImportError, match=r"stale\.json"):
        import_review([good, stale], review, dataset.root)
    assert not review.exists()
    with pytest.raises(ReviewImportError, match="no such file"):
        import_review([tmp_path / "missing.json"], review, dataset.root)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReviewImportError, match="no JSON export"):
        import_review([empty], review, dataset.root)


def test_two_tasks_for_one_clip_are_refused(dataset: Dataset, tmp_path: Path):
    row = {"clip": "a-000001", "clip_sha256": "0", CHOICE_NAME: "keep"}
    path = write(tmp_path / "twice.json", [row, row])
    with pytest.raises(ReviewImportError, match="two tasks"):
        read_label_studio(path)


def test_two_exports_that_disagree_on_a_clip_are_refused_naming_both(
    dataset: Dataset, tmp_path: Path
):
    review = tmp_path / "review"
    clip = dataset.index["clip"].iloc[0]
    sha = clip_sha256(dataset.root / dataset.index["clip_path"].iloc[0])
    monday = write(
        tmp_path / "monday.json", [{"clip": clip, "clip_sha256": sha, CHOICE_NAME: "keep"}]
    )
    tuesday = write(
        tmp_path / "tuesday.json", [{"clip": clip, "clip_sha256": sha, CHOICE_NAME: "drop"}]
    )
    for order in ([tuesday, monday], [monday, tuesday]):
        with pytest.raises(ReviewImportError, match=rf"{clip}: .*says .* and .*says"):
            import_review(order, review, dataset.root)
    assert not review.exists()
    again = write(
        tmp_path / "again.json", [{"clip": clip, "clip_sha256": sha, CHOICE_NAME: "keep"}]
    )
    result = import_review([monday, again], review, dataset.root)  # one verdict, given twice
    assert result.counts == {"kept": 1, "dropped": 0, "changed": 0, "unchanged": 0}


def test_an_answer_without_a_verdict_choice_is_refused_and_unanswered_tasks_are_counted(
    tmp_path: Path, caplog
):
    import logging

    task = {"data": {"clip": "c", "clip_sha256": "0"}}
    renamed = {"from_name": "choice", "value": {"choices": ["drop"]}}
    path = write(
        tmp_path / "renamed.json", [task | {"annotations": [{"id": 1, "result": [renamed]}]}]
    )
    with pytest.raises(ReviewImportError, match=r"renamed\.json \(task 0\): .*no 'verdict' choice"):
        read_label_studio(path)
    unanswered = write(tmp_path / "tasks.json", [task | {"annotations": []}, {**task["data"]}])
    with caplog.at_level(logging.WARNING):
        assert read_label_studio(unanswered) == []
    assert "2 of its 2 tasks have no verdict yet" in caplog.text


def test_a_malformed_import_record_is_named(dataset: Dataset, tmp_path: Path):
    review = tmp_path / "review"
    review.mkdir()
    clip = dataset.index["clip"].iloc[0]
    sha = clip_sha256(dataset.root / dataset.index["clip_path"].iloc[0])
    export = write(tmp_path / "x.json", [{"clip": clip, "clip_sha256": sha, CHOICE_NAME: "keep"}])
    for record in ("{}", "[]", '{"version": "1", "imports": []}'):
        (review / "verdicts.json").write_text(record)
        with pytest.raises(ReviewImportError, match=r"verdicts\.json: malformed import record"):
            import_review([export], review, dataset.root)


def test_verdicts_hold_only_for_the_clip_file_they_judged(dataset: Dataset, caplog):
    first, second = dataset.index["clip"].iloc[:2]
    sha = clip_sha256(dataset.root / dataset.index["clip_path"].iloc[0])
    drops = {first: sha, second: "0" * 64, "gone-000001": sha}
    index = drop_reviewed(dataset.index, drops, dataset.root)
    assert index.loc[index["reason"] == REVIEW_REASON, "clip"].tolist() == [first]
    assert "2 review verdicts" in caplog.text


def test_export_leaves_reviewed_clips_out(dataset: Dataset, tmp_path: Path):
    root = tmp_path / "restoration_dataset"
    shutil.copytree(dataset.root, root)
    signals = []
    for video in VIDEO_IDS:
        out = tmp_path / f"{video}.parquet"
        score_video_clips(dataset.manifest(video), dataset.sources[video].regions, out)
        signals.append(out)
    first = dataset.index["clip"].iloc[0]
    verdicts = pd.DataFrame({"clip": [first], "verdict": ["keep"]})
    ranked, _ = rank_clips(read_signals(signals), verdicts, ReviewConfig(), seed=0)
    data = export_review(ranked, root, tmp_path / "export", top_k=100, url_root="v")
    assert first not in {d["clip"] for d in data} and len(data) == len(ranked) - 1


DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    "name", ["label-studio-1.23.2-json.json", "label-studio-1.23.2-json-min.json"]
)
def test_real_label_studio_exports_are_read(name):
    """Exports that Label Studio 1.23.2 wrote for tasks.json of the demo's review export (the
    project made with labeling_config.xml, three tasks answered through its API)."""
    rows = read_label_studio(DATA / name)
    assert [(r["clip"], r["verdict"]) for r in rows] == [
        ("world-train-18-fc54c86a-000016", "drop"),
        ("world-val-00-cdbf6d7e-000004", "keep"),
        ("world-train-08-2621b35c-000010", "drop"),
    ]
    assert all(len(r["clip_sha256"]) == 64 and r["source"] == name for r in rows)


def test_the_command_needs_a_run_and_reports_what_changed(run: Dataset, tmp_path: Path, capsys):
    from mosaicflow.cli import main

    tasks = tasks_of(run.root.parent)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(label_studio_export(tasks, {tasks[0]["data"]["clip"]: "drop"})))
    assert main(["review", "import", str(export), "--results", str(tmp_path / "none")]) == 2
    assert "no restoration dataset" in capsys.readouterr().err
    results = run.root.parent  # holds restoration_dataset/
    assert main(["review", "import", str(export), "--results", str(results)]) == 0
    assert "verdicts version 1 (kept 0, dropped 1" in capsys.readouterr().out
    assert (results / "review" / "verdicts.parquet").is_file()
    assert main(["review", "import", str(export), "--results", str(results)]) == 0
    assert "no change" in capsys.readouterr().out
