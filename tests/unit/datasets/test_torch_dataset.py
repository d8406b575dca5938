"""MosaicClipDataset: shapes, ranges, repeatable validation, worker-safe seeding, and the
restoration loader's draws."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.datasets.clips.index import build_index
from mosaicflow.datasets.clips.torch_dataset import (
    MosaicClipDataset,
    init_worker,
    to_tensors,
    window_indices,
)
from mosaicflow.restore.sampling import DrawKey, make_loader

from .conftest import Source, make_cfg, mosaic_cfg

torch.set_num_threads(1)

# cheap, reproducible degradations (x265 round trips are not byte-reproducible)
MOSAIC = dict(
    degradations={
        "x265": {"p": 0.0},
        "x264": {"p": 0.3},
        "vp9": {"p": 0.0},
        "mpeg2": {"p": 0.3},
        "jpeg": {"p": 0.5},
        "noise": {"p": 0.5},
    }
)


@pytest.fixture(scope="module")
def index_path(tmp_path_factory, source: Source) -> Path:
    root = tmp_path_factory.mktemp("torchdata")
    cfg = make_cfg(
        min_seconds=0.5, max_seconds=1.2, stride_seconds=0.4, out_size=32, max_clips_per_video=None
    )
    build_video_clips(
        source.video,
        source.index,
        source.regions,
        root,
        cfg,
        mosaic_cfg=mosaic_cfg(),
        video_id="vid-0123abcd",
        seed=0,
        code="c",
    )
    build_index([root / "videos" / "vid-0123abcd.json"], root / "index.parquet", cfg.split, seed=0)
    return root / "index.parquet"


def dataset(index_path: Path, **kw) -> MosaicClipDataset:
    args = dict(num_frames=4, size=24, mosaic_cfg=mosaic_cfg(**MOSAIC), seed=5, train=False)
    return MosaicClipDataset.from_index(index_path, **{**args, **kw})


def test_window_indices():
    assert window_indices(10, 4, 3).tolist() == [3, 4, 5, 6]
    assert window_indices(3, 7, 0).tolist() == [0, 1, 2, 1, 0, 1, 2]
    assert window_indices(1, 3, 0).tolist() == [0, 0, 0]


def test_sample_shapes_ranges_and_mosaic(index_path: Path):
    data = dataset(index_path)
    assert len(data) == 4
    lq, gt, mask = data[0]
    assert lq.shape == gt.shape == (4, 3, 24, 24) and mask.shape == (4, 1, 24, 24)
    assert lq.dtype == torch.float32 and float(lq.min()) >= 0 and float(lq.max()) <= 1
    assert set(torch.unique(mask).tolist()) <= {0.0, 1.0} and mask.sum() > 0
    inside = mask.expand_as(lq) > 0
    assert (lq - gt).abs()[inside].mean() > (lq - gt).abs()[~inside].mean()


def test_validation_is_repeatable_and_train_is_random(index_path: Path):
    val = dataset(index_path)
    for i in range(len(val)):
        a, b = val[i], val[i]
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    train = dataset(index_path, train=True, num_frames=6)
    draws = []
    for draw in range(6):
        s = train.sample(1, draw)
        draws.append((s["start"], s["params"]["block_h"], s["flip"], s["params"]["offset_x"]))
    assert len(set(draws)) > 1
    with pytest.raises(ValueError, match="training sample 1 needs its draw number"):
        train[1]


def test_short_clip_and_upscaled_size(index_path: Path):
    data = dataset(index_path, num_frames=20, size=40)
    lq, gt, _ = data[len(data) - 1]
    assert lq.shape == (20, 3, 40, 40)
    assert torch.equal(gt[12], gt[10]) and torch.equal(gt[19], gt[3])  # walked back


def test_dataloader_with_two_workers_gives_the_validation_samples(index_path: Path):
    data = dataset(index_path)

    def batches() -> list[tuple[torch.Tensor, ...]]:
        loader = DataLoader(
            data,
            batch_size=2,
            num_workers=2,
            multiprocessing_context="spawn",  # fork after other tests' threads can deadlock
            worker_init_fn=init_worker,
        )
        return list(loader)

    first, second = batches(), batches()
    assert len(first) == 2
    for a, b in zip(first, second, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    direct = torch.stack([data[i][0] for i in range(2)])
    assert torch.equal(first[0][0], direct)


def test_clips_read_from_shards_give_the_same_samples(index_path: Path, tmp_path: Path):
    from mosaicflow.datasets.shards import shard_clips, unpack_shards

    result = shard_clips(index_path.parent, tmp_path / "shards", max_bytes=20_000)
    assert result.shards > 1 and result.samples == len(dataset(index_path))
    args = dict(num_frames=4, size=24, mosaic_cfg=mosaic_cfg(**MOSAIC), seed=5, train=False)
    packed = MosaicClipDataset.from_shards(tmp_path / "shards", **args)
    plain = dataset(index_path)
    assert len(packed) == len(plain)
    for i in range(len(plain)):
        for a, b in zip(packed[i], plain[i], strict=True):
            assert torch.equal(a, b)
    for path in unpack_shards(tmp_path / "shards", tmp_path / "out"):
        key, _, ext = path.name.partition(".")
        folder = {"mp4": "clips", "mask.mkv": "masks", "json": "meta"}[ext]
        original = index_path.parent / folder / f"{key}.{ext.removeprefix('mask.')}"
        assert path.read_bytes() == original.read_bytes()


def test_each_draw_of_a_training_clip_gets_its_own_augmentations(index_path: Path):
    train = dataset(index_path, train=True, num_frames=6)

    def drawn(draw: int) -> tuple:
        s = train.sample(1, draw)
        return s["start"], s["params"]["block_h"], s["flip"], s["params"]["offset_x"]

    assert len({drawn(draw) for draw in range(6)}) > 1
    assert drawn(3) == drawn(3)
    assert torch.equal(train[DrawKey(1, 3)][0], to_tensors(train.sample(1, 3))[0])


def test_restoration_loader_gives_the_same_samples_with_workers_and_after_a_resume(
    index_path: Path,
):
    train = dataset(index_path, train=True)

    def lq(start: int, workers: int) -> list[torch.Tensor]:
        loader = make_loader(train, 2, seed=7, start=start, stop=4, num_workers=workers, pin=False)
        return [batch[0] for batch in loader]

    serial = lq(0, 0)
    assert len(serial) == 4
    for a, b in zip(serial, lq(0, 1), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(serial[2:], lq(2, 0), strict=True):
        assert torch.equal(a, b)
