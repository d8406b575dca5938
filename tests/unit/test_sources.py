"""Source discovery: folders, video sheets, ids and their errors."""

from __future__ import annotations

import pytest

from mosaicflow.plan.sources import SourceError, read_sheet, scan_folder, source_videos


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_scan_folder_finds_videos_recursively_and_sorted(tmp_path):
    touch(tmp_path / "b.mp4")
    touch(tmp_path / "sub" / "a clip 'x'.MKV")
    touch(tmp_path / "notes.txt")
    touch(tmp_path / ".hidden" / "c.mp4")
    videos = scan_folder(tmp_path)
    assert [v.name for v in videos] == ["b.mp4", "sub/a clip 'x'.MKV"]
    assert videos[1].id.startswith("a_clip_x-")


def test_ids_do_not_depend_on_where_the_data_lives(tmp_path):
    touch(tmp_path / "one" / "x" / "v.mp4")
    touch(tmp_path / "two" / "x" / "v.mp4")
    assert scan_folder(tmp_path / "one")[0].id == scan_folder(tmp_path / "two")[0].id


def test_sheet_reads_roles_and_resolves_relative_paths(tmp_path):
    touch(tmp_path / "v" / "a.mp4")
    touch(tmp_path / "v" / "b.mp4")
    sheet = tmp_path / "videos.tsv"
    sheet.write_text("path\trole\nv/a.mp4\ttrain\nv/b.mp4\t\n")
    videos = read_sheet(sheet)
    assert [(v.name, v.role) for v in videos] == [("v/a.mp4", "train"), ("v/b.mp4", "unlabelled")]
    sheet.write_text("path \t role \n v/a.mp4 \t train \nv/b.mp4\t\n")  # spaces around cells
    assert read_sheet(sheet) == videos


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("file\n", "needs a 'path' column"),
        ("path\trole\nv/a.mp4\tholdout\n", "line 2: role 'holdout'"),
        ("path\nmissing.mp4\n", "line 2: video not found"),
        ("path\tcolour\n", "unknown columns"),
        ("path\nv/a.mp4\nv/../../outside.mp4\n", "line 3: path 'v/../../outside.mp4' climbs out"),
        ("path\nv/a.mp4\n./v/a.mp4\n", r"line 3: './v/a.mp4' gets the id a-\w+ of line 2"),
        ("path\nv/a.mp4\nv/frame.JPG\n", r"line 3: 'v/frame.JPG' is not a video \(.JPG file\)"),
        ("path\nv/a.json\n", r"line 2: 'v/a.json' is not a video"),
    ],
)
def test_sheet_errors_name_file_and_line(tmp_path, content, message):
    touch(tmp_path / "v" / "a.mp4")
    touch(tmp_path / "v" / "frame.JPG")
    touch(tmp_path / "v" / "a.json")
    sheet = tmp_path / "s.tsv"
    sheet.write_text(content)
    with pytest.raises(SourceError, match=message) as err:
        read_sheet(sheet)
    assert str(sheet) in str(err.value)


def test_two_files_of_one_id_in_a_sheet_are_refused_naming_both_lines(tmp_path):
    # an absolute path's id is its path without the root: the same id as this relative path
    absolute = touch(tmp_path / "v" / "a.mp4")
    relative = absolute.relative_to(absolute.anchor)
    touch(tmp_path / relative)
    sheet = tmp_path / "s.tsv"
    sheet.write_text(f"path\n{absolute}\n{relative}\n")
    with pytest.raises(SourceError, match=r"s\.tsv, line 3: .* of line 2") as err:
        read_sheet(sheet)
    assert str(absolute) in str(err.value)


def test_symlinked_folders_are_followed_out_of_the_source_but_never_back_into_it(tmp_path):
    elsewhere = touch(tmp_path / "disk2" / "more" / "c.mp4").parent
    root = tmp_path / "videos"
    touch(root / "a.mp4")
    (root / "linked").symlink_to(elsewhere)
    assert [v.name for v in scan_folder(root)] == ["a.mp4", "linked/c.mp4"]
    for name, target in (("twice", elsewhere), ("inside", root), ("above", tmp_path)):
        (root / name).symlink_to(target)
        with pytest.raises(ValueError, match=f"{root / name}: a symlinked folder that leads to"):
            scan_folder(root)
        (root / name).unlink()


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="no video files found"):
        source_videos({"kind": "videos", "videos": str(tmp_path)})


def test_videos_kind_needs_a_location():
    with pytest.raises(SourceError, match=r"source\.videos' must be set"):
        source_videos({"kind": "videos", "videos": None})


def test_world_label_videos_feed_the_labelme_train_split_only():
    import re

    from mosaicflow.config import build, validate_config
    from mosaicflow.plan.run import WORLD_NAME_PATTERN
    from mosaicflow.plan.stages.world import world_items
    from mosaicflow.world import video_specs
    from mosaicflow.world.config import WorldConfig
    from mosaicflow.world.items import labelled_splits

    config = {"world": {"roles": {"train": 5, "val": 1, "test": 2, "label": 101}}}
    validate_config(config)
    specs = video_specs(build(WorldConfig, config["world"]), seed=1)
    names = [s.name for s in specs]
    assert names[:8] == [f"world-train-0{i}" for i in range(5)] + [
        "world-val-00", "world-test-00", "world-test-01"
    ]  # fmt: skip
    assert names[-1] == "world-label-100"
    assert all(re.fullmatch(WORLD_NAME_PATTERN, n) for n in names)
    sources = source_videos({"kind": "demo"}, specs)
    assert {v.role for v in sources} == {"train", "val", "test"} and len(sources) == 8
    splits = labelled_splits(world_items(specs, ["train", "val", "label"]))
    assert len(splits["train"]) == 5 + 101 and len(splits["val"]) == 1
    assert all("-val-" in item[0] for item in splits["val"])
    with pytest.raises(ValueError, match="world-test-00"):
        labelled_splits(world_items(specs, ["test"]))


def test_world_reuploads_join_the_sources_without_a_role():
    import re

    from mosaicflow.config import validate_config
    from mosaicflow.plan.run import (
        REUPLOAD_NAME_PATTERN,
        WORLD_NAME_PATTERN,
        Run,
        world_reuploads,
        world_specs,
    )
    from mosaicflow.plan.stages.frames import split_roles

    config = {"source": {"kind": "demo"}, "seed": 3, "world": {"reuploads": {"count": 2}}}
    validate_config(config)
    specs = world_specs(config)
    copies = world_reuploads(config, specs)
    assert [c.name for c in copies] == ["world-reupload-00", "world-reupload-01"]
    assert all(re.fullmatch(REUPLOAD_NAME_PATTERN, c.name) for c in copies)
    assert not any(re.fullmatch(WORLD_NAME_PATTERN, c.name) for c in copies)
    sources = source_videos(config["source"], specs, copies)
    by_name = {v.name: v for v in sources}
    assert by_name["world-reupload-01"].role == "unlabelled"
    assert by_name["world-reupload-01"].path.endswith("world/videos/world-reupload-01.mp4")
    # the detection split pins the world's own videos and leaves the copies to their groups
    roles = split_roles(Run.of(config, sources, specs))
    assert set(roles) == {v.id for v in sources if not v.name.startswith("world-reupload")}
    users = {"source": {"kind": "videos"}, "seed": 3, "world": {"reuploads": {"count": 2}}}
    assert world_reuploads(users, specs) == []


def test_one_file_listed_twice_is_refused_by_any_path(tmp_path):
    touch(tmp_path / "sub" / "clip1.mp4")
    sheet = tmp_path / "videos.tsv"
    sheet.write_text(f"path\trole\nsub/clip1.mp4\ttrain\n{tmp_path / 'sub' / 'clip1.mp4'}\ttest\n")
    source = {"kind": "videos", "videos": str(sheet)}
    with pytest.raises(SourceError, match=r"clip1\.mp4 are one file .* list each video once"):
        source_videos(source)
    (tmp_path / "sub" / "again.mp4").symlink_to(tmp_path / "sub" / "clip1.mp4")
    with pytest.raises(SourceError, match="are one file"):
        source_videos({"kind": "videos", "videos": str(tmp_path / "sub")})


def test_a_video_or_binary_file_given_as_the_sheet_is_named_and_a_bom_is_read(tmp_path):
    touch(tmp_path / "a.mp4")
    with pytest.raises(SourceError, match=r"a\.mp4 is a video; give the folder"):
        source_videos({"kind": "videos", "videos": str(tmp_path / "a.mp4")})
    (tmp_path / "odd.tsv").write_bytes(b"\x00\x9e\xff\xfe")
    with pytest.raises(SourceError, match=r"odd\.tsv: not a text video sheet"):
        read_sheet(tmp_path / "odd.tsv")
    (tmp_path / "bom.tsv").write_bytes("\ufeffpath\trole\na.mp4\ttrain\n".encode())
    assert [v.role for v in read_sheet(tmp_path / "bom.tsv")] == ["train"]


def test_the_user_s_data_with_the_demo_kind_is_an_error_not_ignored(tmp_path):
    for key in ("videos", "labelme_train", "labelme_val"):
        with pytest.raises(SourceError, match=rf"source\.{key} are set but source\.kind is 'demo'"):
            source_videos({"kind": "demo", key: str(tmp_path)})


def test_the_workflow_s_own_outputs_are_not_taken_for_source_videos(tmp_path, monkeypatch):
    touch(tmp_path / "clip.mp4")
    touch(tmp_path / "results" / "evaluate" / "restored.mp4")
    touch(tmp_path / ".snakemake" / "x.mp4")
    monkeypatch.chdir(tmp_path)  # the videos folder holds the working directory
    found = source_videos({"kind": "videos", "videos": str(tmp_path)})
    assert [v.name for v in found] == ["clip.mp4"]
