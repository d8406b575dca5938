"""Outputs never land on inputs, and a command writes only into folders it made."""

from __future__ import annotations

import pytest

from mosaicflow.outputs import MARKER, check_apart, claim_output_dir, mark_output_dir


def test_an_output_that_is_inside_or_contains_an_input_is_refused(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.jpg").write_bytes(b"a")
    for output, why in (
        (data, "is the input"),
        (data / "sub", "lies inside the input"),
        (data / "a.jpg", "lies inside the input"),
        (tmp_path, "contains the input"),
    ):
        with pytest.raises(ValueError, match=why) as err:
            check_apart(output, [tmp_path.parent / "elsewhere", data])
        assert str(output) in str(err.value) and str(data) in str(err.value)
    with pytest.raises(ValueError, match="is the input"):
        check_apart(data / "a.jpg", [data / "a.jpg"])
    check_apart(tmp_path / "out", [data, None])  # a sibling is fine
    check_apart(tmp_path / "data2", [data])  # a shared name prefix is not containment


def test_symlinks_are_resolved(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    link = tmp_path / "link"
    link.symlink_to(data)
    with pytest.raises(ValueError, match="is the input"):
        check_apart(link, [data])
    with pytest.raises(ValueError, match="lies inside the input"):
        check_apart(link / "out", [data])


def test_a_folder_is_claimed_when_new_empty_or_an_earlier_output_of_the_command(tmp_path):
    out = tmp_path / "out"
    assert claim_output_dir(out, "detect") == out  # absent
    out.mkdir()
    claim_output_dir(out, "detect")  # empty
    (out / "notes.txt").write_text("the user's")
    with pytest.raises(ValueError, match=r"out: the output folder is not empty") as err:
        claim_output_dir(out, "detect")
    assert "mosaicflow detect" in str(err.value) and MARKER in str(err.value)
    mark_output_dir(out, "detect")
    claim_output_dir(out, "detect")  # its own earlier output
    with pytest.raises(ValueError, match="not an earlier output of `mosaicflow prelabel`"):
        claim_output_dir(out, "prelabel")  # another command's output
    (out / MARKER).write_text("{not json")
    with pytest.raises(ValueError, match="not empty"):
        claim_output_dir(out, "detect")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        claim_output_dir(tmp_path / "file", "detect")
    with pytest.raises(ValueError, match="contains the input"):
        claim_output_dir(tmp_path, "detect", [out])


class Failed(Exception):
    pass


def test_a_failed_run_leaves_a_new_or_empty_folder_as_it_found_it(tmp_path):
    from mosaicflow.writing import writing_into

    new = tmp_path / "made" / "for" / "new"
    with pytest.raises(Failed), writing_into(new, "frames", scratch=[".yolo_config"]) as out:
        assert (out / MARKER).is_file()
        (out / ".yolo_config").mkdir()
        (out / ".yolo_config" / "settings.json").write_text("{}")
        raise Failed
    assert not (tmp_path / "made").exists()  # nor the parents the run made

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Failed), writing_into(empty, "frames"):
        raise Failed
    assert empty.is_dir() and not any(empty.iterdir())


def test_a_failed_run_keeps_what_it_wrote_and_an_earlier_runs_folder(tmp_path):
    from mosaicflow.writing import writing_into

    partial = tmp_path / "partial"
    with pytest.raises(Failed), writing_into(partial, "frames") as out:
        (out / "index.parquet").write_bytes(b"part")
        raise Failed
    assert sorted(p.name for p in partial.iterdir()) == [MARKER, "index.parquet"]
    claim_output_dir(partial, "frames")  # the rerun may replace it

    earlier = tmp_path / "earlier"
    mark_output_dir(earlier, "frames")
    with pytest.raises(Failed), writing_into(earlier, "frames"):
        raise Failed
    assert [p.name for p in earlier.iterdir()] == [MARKER]  # still an output of frames

    with writing_into(tmp_path / "done", "frames") as out:
        (out / "index.parquet").write_bytes(b"all")
    claim_output_dir(out, "frames")
    with pytest.raises(ValueError, match="not an earlier output"):
        claim_output_dir(out, "detect")
