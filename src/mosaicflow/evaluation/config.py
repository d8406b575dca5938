"""The ``evaluate`` config section as a frozen dataclass (fields = schema keys)."""

from __future__ import annotations

from dataclasses import dataclass

from mosaicflow.inference.pipeline import RestoreSettings


@dataclass(frozen=True)
class EvaluationRestoreConfig:
    """The ``evaluate`` keys one test video's restore reads (rule restore_test_video). The
    roles, the sample video and the grid are not among them, so changing those restores no
    video again.

    Attributes:
        max_clip_frames: longest clip restored at once.
        max_gap_frames: frames a track may miss and still be restored, bridged.
        batch: frames per detector call.
        frames_per_call: frames per restorer forward pass (None: the whole clip).
        fp16: half precision on CUDA.
        crf: x264 CRF of the restored videos.
        preset: x264 preset of the restored videos.
    """

    max_clip_frames: int
    max_gap_frames: int
    batch: int
    frames_per_call: int | None
    fp16: bool
    crf: int
    preset: str

    def restore_settings(self) -> RestoreSettings:
        """The :class:`~mosaicflow.inference.pipeline.RestoreSettings` of the evaluation run:
        the reproducible libx264 encode, so the restored videos (and every figure scored on
        them) are the same bytes on every run."""
        return RestoreSettings(
            max_clip_frames=self.max_clip_frames, max_gap_frames=self.max_gap_frames,
            batch=self.batch, crf=self.crf, preset=self.preset, codec="libx264",
            reproducible=True,
        )  # fmt: skip


@dataclass(frozen=True)
class EvaluateConfig(EvaluationRestoreConfig):
    """Settings of the end-to-end evaluation (``config/schema.yaml``, section ``evaluate``):
    the restore keys and which videos are scored, the sample video and the grid.

    Attributes:
        roles: demo-world roles of the evaluated videos.
        sample_seconds: length of the side-by-side sample video.
        grid_frames: rows of the still grid.
    """

    roles: tuple[str, ...]
    sample_seconds: float
    grid_frames: int
