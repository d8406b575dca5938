"""The training batches of a restoration stage: a batch order that is a pure function of
``(seed, iteration)``, so a resumed run starts at its iteration without replaying the data.

Sample ``k`` of a run (``k = iteration * batch_size + j``) is element ``k % n`` of the
permutation of pass ``k // n``, drawn from ``numpy.random.default_rng([seed, pass])``. The loader
indexes the dataset with :class:`DrawKey` s, ints that also carry ``k``: a dataset that draws its
randomness from both (as ``MosaicClipDataset`` does) gives every draw of an item fresh
augmentations, and the same samples with any number of worker processes and after a resume.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from mosaicflow.datasets.clips.torch_dataset import init_worker
from mosaicflow.restore.errors import TrainingError


class IterationBatchSampler(Sampler[list[int]]):
    """Index batches for iterations ``start .. stop-1``; a pure function of the seed.

    Sample ``k`` of the whole run (``k = iteration * batch_size + j``) is element ``k % n`` of
    the permutation of pass ``k // n``, drawn from ``numpy.random.default_rng([seed, pass])``.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start: int, stop: int) -> None:
        if n < 1:
            raise TrainingError("the training dataset is empty")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start, self.stop = start, stop
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(self.n)}
        return self._perms[epoch]

    def batch(self, iteration: int) -> list[int]:
        """The dataset indices of ``iteration``."""
        first = iteration * self.batch_size
        return [
            int(self._perm(k // self.n)[k % self.n]) for k in range(first, first + self.batch_size)
        ]

    def __iter__(self) -> Iterator[list[int]]:
        for iteration in range(self.start, self.stop):
            yield self.batch(iteration)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


class WeightedIterationBatchSampler(IterationBatchSampler):
    """Index batches drawn with replacement in proportion to ``weights`` (one per dataset item);
    iteration ``i``'s batch comes from ``numpy.random.default_rng([seed, i])``, so it is a pure
    function of the seed and the iteration, like :class:`IterationBatchSampler`'s."""

    def __init__(
        self, weights: Sequence[float], batch_size: int, seed: int, start: int, stop: int
    ) -> None:
        super().__init__(len(weights), batch_size, seed, start, stop)
        w = np.asarray(weights, dtype=np.float64)
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise TrainingError("sample weights must be finite, >= 0 and not all 0")
        self.p = w / w.sum()

    def batch(self, iteration: int) -> list[int]:
        rng = np.random.default_rng([self.seed, iteration])
        return [int(i) for i in rng.choice(self.n, size=self.batch_size, p=self.p)]


class DrawKey(int):
    """A dataset index that also carries ``draw``, the sample's number in the run: datasets that
    only want the index use it as the int it is."""

    draw: int

    def __new__(cls, index: int, draw: int) -> DrawKey:
        key = super().__new__(cls, index)
        key.draw = int(draw)
        return key

    def __reduce__(self) -> tuple[type[DrawKey], tuple[int, int]]:
        return DrawKey, (int(self), self.draw)

    def __repr__(self) -> str:
        return f"DrawKey({int(self)}, draw={self.draw})"


class DrawKeys(Sampler[list[DrawKey]]):
    """The batches of an :class:`IterationBatchSampler` as :class:`DrawKey` s, with
    ``draw = iteration * batch_size + j``."""

    def __init__(self, batches: IterationBatchSampler) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[list[DrawKey]]:
        size = self.batches.batch_size
        for iteration, batch in enumerate(self.batches, start=self.batches.start):
            yield [DrawKey(i, iteration * size + j) for j, i in enumerate(batch)]

    def __len__(self) -> int:
        return len(self.batches)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    start: int,
    stop: int,
    num_workers: int,
    pin: bool,
    weights: Sequence[float] | None = None,
) -> DataLoader:
    """DataLoader over iterations ``start .. stop-1`` (see :class:`IterationBatchSampler`; with
    ``weights``, :class:`WeightedIterationBatchSampler`), indexing ``dataset`` with
    :class:`DrawKey` s."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + start)
    if weights is None:
        sampler = IterationBatchSampler(len(dataset), batch_size, seed, start, stop)  # type: ignore[arg-type]
    else:
        if len(weights) != len(dataset):  # type: ignore[arg-type]
            raise TrainingError(
                f"{len(weights)} sample weights for {len(dataset)} training clips"  # type: ignore[arg-type]
            )
        sampler = WeightedIterationBatchSampler(weights, batch_size, seed, start, stop)
    return DataLoader(
        dataset,
        batch_sampler=DrawKeys(sampler),
        num_workers=num_workers,
        worker_init_fn=init_worker,
        pin_memory=pin,
        generator=generator,
        persistent_workers=False,
        # workers are spawned: forking a process whose threads hold locks (OpenCV, torch,
        # ultralytics) can deadlock a worker. A spawned worker imports the main script again, so
        # a script that trains must keep its work under `if __name__ == "__main__":`.
        multiprocessing_context="spawn" if num_workers > 0 else None,
    )


def check_batch(batch: Sequence[torch.Tensor], size: int | None = None) -> None:
    """(lq, gt, mask) batches (N, T, 3, H, W), (N, T, 3, H, W), (N, T, 1, H, W)."""
    if len(batch) != 3:
        raise TrainingError(f"a training sample must be (lq, gt, mask), got {len(batch)} items")
    lq, gt, mask = batch
    if lq.dim() != 5 or lq.shape[2] != 3 or gt.shape != lq.shape:
        raise TrainingError(f"lq {tuple(lq.shape)} / gt {tuple(gt.shape)}: need (N, T, 3, H, W)")
    if mask.shape[:2] != lq.shape[:2] or mask.shape[2] != 1 or mask.shape[3:] != lq.shape[3:]:
        raise TrainingError(f"mask {tuple(mask.shape)} does not fit lq {tuple(lq.shape)}")
