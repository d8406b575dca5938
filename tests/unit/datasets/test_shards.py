"""Tar shards in the WebDataset layout: same bytes every time, random access, safe unpacking."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from mosaicflow.datasets.shards import (
    Sample,
    ShardReader,
    split_name,
    unpack_detection,
    unpack_shards,
    write_shards,
)


def _files(root, count=5, size=700):
    samples = []
    for i in range(count):
        folder = root / f"s{i}"
        folder.mkdir(parents=True)
        files = {}
        for ext, n in (("mp4", size * (i + 1)), ("mask.mkv", size // 2), ("json", 30)):
            path = folder / f"f.{ext}"
            path.write_bytes(hashlib.sha256(f"{i}{ext}".encode()).digest() * (n // 32 + 1))
            files[ext] = path
        samples.append(Sample(f"clips/clip-{i:03d}", files))
    return samples


def _digest(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.tar"))}


def test_shards_are_reproducible_and_members_read_back(tmp_path):
    samples = _files(tmp_path / "src", size=3000)
    index = write_shards(reversed(samples), tmp_path / "a", prefix="clips", max_bytes=25_000)
    write_shards(samples, tmp_path / "b", prefix="clips", max_bytes=25_000)
    first = _digest(tmp_path / "a")
    assert first == _digest(tmp_path / "b") and len(first) > 1
    assert all(len(data) <= 25_000 for data in first.values())  # trailer and padding counted
    assert (tmp_path / "a" / "index.parquet").read_bytes() == (
        tmp_path / "b" / "index.parquet"
    ).read_bytes()
    # samples in key order, members of a sample together and never split over shards
    assert index["key"].tolist() == sorted(index["key"].tolist())
    assert index.groupby("key")["shard"].nunique().max() == 1
    reader = ShardReader(tmp_path / "a")
    for sample in samples:
        for ext, path in sample.files.items():
            assert reader.read(sample.key, ext) == path.read_bytes()
    with pytest.raises(KeyError, match=r"clip-000\.txt"):
        reader.read("clips/clip-000", "txt")
    # plain tars: fixed headers, the members' bytes as they were
    with tarfile.open(tmp_path / "a" / "clips-000000.tar") as tar:
        for info in tar:
            assert (info.mtime, info.uid, info.gid, info.uname, info.mode) == (0, 0, 0, "", 0o644)
    files = unpack_shards(tmp_path / "a", tmp_path / "out")
    assert len(files) == 15
    for sample in samples:
        for ext, path in sample.files.items():
            assert (tmp_path / "out" / f"{sample.key}.{ext}").read_bytes() == path.read_bytes()


def test_names_and_bad_samples(tmp_path):
    assert split_name("clips/a-01.mask.mkv") == ("clips/a-01", "mask.mkv")
    assert split_name("a.json") == ("a", "json")
    samples = _files(tmp_path / "src", count=2)
    with pytest.raises(ValueError, match="share the key"):
        write_shards([samples[0], samples[0]], tmp_path / "x", prefix="p", max_bytes=10**6)
    bad = Sample("../escape", samples[0].files)
    with pytest.raises(ValueError, match="escape"):
        write_shards([bad], tmp_path / "x", prefix="p", max_bytes=10**6)
    gone = Sample("k", {"mp4": tmp_path / "missing.mp4"})
    with pytest.raises(ValueError, match=r"missing\.mp4"):
        write_shards([gone], tmp_path / "x", prefix="p", max_bytes=10**6)
    with pytest.raises(ValueError, match="no shard index"):
        ShardReader(tmp_path / "nowhere")


def test_unpacking_refuses_a_member_outside_the_folder(tmp_path):
    folder = tmp_path / "shards"
    write_shards(_files(tmp_path / "src", count=1), folder, prefix="p", max_bytes=10**6)
    evil = folder / "p-000000.tar"
    size = evil.stat().st_size
    with tarfile.open(evil, "w") as tar:
        pad = tarfile.TarInfo("pad.bin")  # as long as the shard the index describes
        pad.size = size
        tar.addfile(pad, io.BytesIO(bytes(size)))
        info = tarfile.TarInfo("../../evil.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    with pytest.raises(ValueError, match=r"p-000000\.tar"):
        unpack_shards(folder, tmp_path / "out")
    assert not (tmp_path / "evil.json").exists()


def test_unpacking_a_detection_index_with_an_escaping_key_writes_nothing(tmp_path):
    import pandas as pd

    folder = tmp_path / "shards"
    samples = [Sample("train/a", {"png": _files(tmp_path / "src", count=1)[0].files["json"]})]
    write_shards(samples, folder, prefix="detection", max_bytes=10**6)
    index = pd.read_parquet(folder / "index.parquet")
    index.loc[0, "key"] = "../../escape"
    index.to_parquet(folder / "index.parquet")
    with pytest.raises(ValueError, match=r"index\.parquet"):
        unpack_detection(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("**/escape*"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"shard": "/etc/passwd"}, r"shard '/etc/passwd' is not a file of"),
        ({"shard": "../p-000000.tar"}, r"shard '\.\./p-000000\.tar' is not a file of"),
        ({"offset": -5}, r"lies outside p-000000\.tar"),
        ({"size": 10**15}, r"lies outside p-000000\.tar"),
    ],
)
def test_an_index_pointing_outside_its_shards_is_refused(tmp_path, edit, message):
    import pandas as pd

    folder = tmp_path / "shards"
    write_shards(_files(tmp_path / "src", count=1), folder, prefix="p", max_bytes=10**6)
    index = pd.read_parquet(folder / "index.parquet")
    for column, value in edit.items():
        index[column] = value
    index.to_parquet(folder / "index.parquet")
    with pytest.raises(ValueError, match=message):
        ShardReader(folder)


def test_a_shard_that_is_no_file_is_refused_not_read_forever(tmp_path):
    import os

    folder = tmp_path / "shards"
    write_shards(_files(tmp_path / "src", count=1), folder, prefix="p", max_bytes=10**6)
    (folder / "p-000000.tar").unlink()
    os.mkfifo(folder / "p-000000.tar")
    with pytest.raises(ValueError, match=r"shard 'p-000000\.tar' is not a file of"):
        unpack_shards(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()
