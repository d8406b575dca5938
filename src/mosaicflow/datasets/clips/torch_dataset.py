"""``MosaicClipDataset``: restoration training samples, mosaicked on the fly from stored clips.

Each sample reads a window of ``num_frames`` frames of a kept clip and its masks, resizes them to
the model's ``size``, draws one mosaic parameter set for the window (:mod:`mosaicflow.mosaic`,
block sizes estimated in the source frame's geometry scaled like the clip), pixelates, applies
the degradations and returns ``(lq, gt, mask)``: float tensors in [0, 1] of shape
``(T, 3, H, W)``, ``(T, 3, H, W)`` and ``(T, 1, H, W)`` (the pixelated area).

Randomness comes only from a numpy Generator per sample:

- validation (``train=False``): ``default_rng([seed, index])``: the same sample for the same
  index on every call, in every worker and every run;
- training (``train=True``), by the draw's number: ``default_rng([seed, index, draw, 1])``
  gives every draw of a clip its own window, mosaic, degradations and horizontal flip, the same
  with any number of DataLoader workers and after a resume. The restoration loader indexes the
  dataset with ``DrawKey``s, ints that carry the sample's number in the run
  (:mod:`mosaicflow.restore.sampling`); elsewhere call :meth:`sample` with ``draw``.

Note: libx265 round trips are not byte-reproducible; set ``mosaic.degradations.x265.p: 0`` (or
``degrade=False``) where validation must be bit-exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from mosaicflow.datasets.clips.media import read_video
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.mosaic.degrade import degrade as degrade_clip
from mosaicflow.mosaic.synth import apply_mosaic, sample_clip_params

if TYPE_CHECKING:
    from mosaicflow.datasets.shards import ShardReader


def window_indices(n_frames: int, num_frames: int, start: int) -> np.ndarray:
    """``num_frames`` frame positions from ``start``; clips too short are walked back and forth."""
    if n_frames >= num_frames:
        return np.arange(start, start + num_frames)
    period = max(1, 2 * n_frames - 2)
    steps = np.arange(num_frames) % period
    return np.where(steps < n_frames, steps, period - steps)


def init_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: one torch and OpenCV thread per worker process."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


class MosaicClipDataset(Dataset):
    """Training / validation samples over the kept clips of one split of ``index.parquet``.

    Args:
        index: the clip index (``build_index``'s table; only ``kept`` rows of ``split`` are used).
        root: the dataset folder the index's paths are relative to.
        num_frames: frames per sample (T).
        size: side of the square model input (clips are resized when it differs).
        mosaic_cfg: the ``mosaic`` config (block sizes, shapes, degradations).
        seed: base seed.
        train: random windows, parameters and horizontal flips (else fully repeatable).
        split: the split to use (``None``: every kept clip).
        degrade: apply ``mosaic.degradations`` after the mosaic.
        hflip_p: flip probability in training.
    """

    def __init__(
        self,
        index: pd.DataFrame,
        root: Path,
        *,
        num_frames: int,
        size: int,
        mosaic_cfg: MosaicConfig,
        seed: int,
        train: bool,
        split: str | None = None,
        degrade: bool = True,
        hflip_p: float = 0.5,
    ) -> None:
        rows = index[index["kept"].astype(bool)]
        if split is not None:
            rows = rows[rows["split"] == split]
        self.rows = rows.sort_values(["video", "clip_no"], kind="stable").reset_index(drop=True)
        self.root = Path(root)
        self.num_frames = int(num_frames)
        self.size = int(size)
        self.mosaic_cfg = mosaic_cfg
        self.seed = int(seed)
        self.train = bool(train)
        self.degrade = bool(degrade)
        self.hflip_p = float(hflip_p)
        self.shards: ShardReader | None = None

    @classmethod
    def from_index(
        cls, index_parquet: Path, root: Path | None = None, **kwargs: Any
    ) -> MosaicClipDataset:
        """Build from an ``index.parquet`` file (``root``: its folder by default)."""
        from mosaicflow.datasets.clips.index import read_index

        path = Path(index_parquet)
        return cls(read_index(path), root if root is not None else path.parent, **kwargs)

    @classmethod
    def from_shards(cls, shard_dir: Path, **kwargs: Any) -> MosaicClipDataset:
        """Build from a clip shard folder (rule ``shard_restoration_dataset``): the same samples
        as :meth:`from_index` on the folder it was packed from, read from the shards."""
        from mosaicflow.datasets.clips.index import read_index
        from mosaicflow.datasets.shards import CLIP_TABLE, ShardReader

        reader = ShardReader(Path(shard_dir))
        dataset = cls(read_index(reader.dir / CLIP_TABLE), reader.dir, **kwargs)
        dataset.shards = reader
        return dataset

    def _read(self, row: pd.Series, column: str, first: int, count: int, fmt: str) -> np.ndarray:
        path = self.root / row[column]
        if self.shards is None:
            return read_video(path, first, count, fmt=fmt)
        ext = Path(row[column]).suffix.lstrip(".")
        ext = f"mask.{ext}" if column == "mask_path" else ext
        return read_video(path, first, count, fmt=fmt, data=self.shards.read(row["clip"], ext))

    def __len__(self) -> int:
        return len(self.rows)

    def rng(self, index: int, draw: int | None = None) -> np.random.Generator:
        """The generator of sample ``index`` (draw ``draw`` of it; see the module docstring).

        Raises:
            ValueError: a training sample asked for without its draw number.
        """
        if not self.train:
            return np.random.default_rng([self.seed, int(index)])
        if draw is None:
            raise ValueError(
                f"training sample {int(index)} needs its draw number: index the dataset with "
                "a DrawKey (mosaicflow.restore.sampling) or call sample(index, draw)"
            )
        # one stream per (clip, draw), whichever process draws it
        return np.random.default_rng([self.seed, int(index), int(draw), 1])

    def _resize(self, clip: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        side = clip.shape[1]
        if side == self.size:
            return clip, masks
        inter = cv2.INTER_AREA if self.size < side else cv2.INTER_LINEAR
        dsize = (self.size, self.size)
        clip = np.stack([cv2.resize(f, dsize, interpolation=inter) for f in clip])
        masks = np.stack(
            [
                cv2.resize(
                    m,
                    dsize,
                    interpolation=cv2.INTER_AREA if self.size < side else cv2.INTER_NEAREST,
                )
                for m in masks
            ]
        )
        return clip, np.where(masks >= 128, 255, 0).astype(np.uint8)

    def sample(self, index: int, draw: int | None = None) -> dict[str, Any]:
        """One sample as uint8 arrays plus what was drawn (for inspection and tests)."""
        row = self.rows.iloc[int(index)]
        rng = self.rng(index, draw)
        n = int(row["frames"])
        start = int(rng.integers(0, max(1, n - self.num_frames + 1)))
        positions = window_indices(n, self.num_frames, start)
        first, count = int(positions.min()), int(positions.max() - positions.min() + 1)
        clip = self._read(row, "clip_path", first, count, "rgb24")[positions - first]
        masks = self._read(row, "mask_path", first, count, "gray")[positions - first]
        gt, masks = self._resize(clip, masks)
        factor = float(row["scale"]) * self.size / float(clip.shape[1])
        frame_shape = (
            max(1, round(row["source_h"] * factor)),
            max(1, round(row["source_w"] * factor)),
        )
        params = sample_clip_params(self.mosaic_cfg, masks, frame_shape, rng)
        lq, mosaic_mask = apply_mosaic(gt, masks, params)
        applied: dict[str, Any] = {}
        if self.degrade:
            lq, applied = degrade_clip(lq, self.mosaic_cfg.degradations, rng)
        flip = bool(rng.random() < self.hflip_p) and self.train
        if flip:
            lq, gt, mosaic_mask = (
                np.ascontiguousarray(a[:, :, ::-1]) for a in (lq, gt, mosaic_mask)
            )
        return {
            "lq": lq,
            "gt": gt,
            "mask": mosaic_mask,
            "clip": row["clip"],
            "start": start,
            "params": params.to_dict(),
            "degradations": applied,
            "flip": flip,
        }

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample ``index``; an index that carries ``draw`` (a restoration loader's ``DrawKey``)
        selects that draw."""
        return to_tensors(self.sample(int(index), getattr(index, "draw", None)))


def to_tensors(s: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(lq, gt, mask)`` float tensors in [0, 1]: ``(T, 3, H, W)`` x2 and ``(T, 1, H, W)``."""

    def frames(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float().div_(255.0)

    mask = torch.from_numpy(np.ascontiguousarray(s["mask"]))[:, None].float().div_(255.0)
    return frames(s["lq"]), frames(s["gt"]), mask
