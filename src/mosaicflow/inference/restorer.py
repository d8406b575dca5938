"""The default restorer: our BasicVSR++ generator with exported inference weights.

The network's size (``mid_channels``, ``num_blocks``) comes from the model card when one is
given (``model.json`` of :func:`mosaicflow.restore.export.export`) and is otherwise read from
the state dict's shapes; the crop size is the card's ``input_size`` (else :data:`DEFAULT_SIZE`).
A card beside the weights whose ``weights`` names the file is found without being given.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mosaicflow.io import read_json
from mosaicflow.restore.weights import WeightsError, generator_state_dict, read_checkpoint

log = logging.getLogger(__name__)

DEFAULT_SIZE = 256
CARD_NAME = "model.json"
_BLOCK_KEY = re.compile(r"^backbone\.backward_1\.main\.2\.(\d+)\.conv1\.weight$")


class RestorerError(ValueError):
    """A restorer file or card that cannot be used (names the file)."""


@dataclass(frozen=True)
class GeneratorShape:
    """What the restorer is built from.

    Attributes:
        mid_channels: feature channels.
        num_blocks: residual blocks per propagation branch.
        hr_skip: the generator has the full-resolution branch (``hr_skip.*`` keys).
        input_size: side of the square crops.
        num_frames: clip length in training (informative; any length restores).
    """

    mid_channels: int
    num_blocks: int
    input_size: int
    num_frames: int | None = None
    hr_skip: bool = False


def shape_from_state(state: Mapping[str, torch.Tensor], source: str) -> tuple[int, int]:
    """``(mid_channels, num_blocks)`` of a generator state dict (reference key layout).

    Raises:
        RestorerError: the keys are not those of a BasicVSR++ generator.
    """
    first = state.get("feat_extract.0.weight")
    blocks = [int(m.group(1)) for k in state if (m := _BLOCK_KEY.match(str(k)))]
    if first is None or first.dim() != 4 or not blocks:
        sample = list(state)[:3]
        raise RestorerError(
            f"{source}: not a BasicVSR++ generator state dict (no 'feat_extract.0.weight' or "
            f"'backbone.backward_1.main.2.*' keys; found e.g. {sample})"
        )
    return int(first.shape[0]), max(blocks) + 1


def find_card(weights: Path) -> Path | None:
    """The model card beside ``weights`` when it describes that file, else ``None``."""
    card = weights.with_name(CARD_NAME)
    if not card.is_file():
        return None
    try:
        data = read_json(card)
    except ValueError:
        return None
    return card if isinstance(data, dict) and data.get("weights") == weights.name else None


def generator_shape(
    state: Mapping[str, torch.Tensor], source: str, card: Path | None
) -> GeneratorShape:
    """The generator's size from the card (checked against the state dict) or the shapes."""
    mid, blocks = shape_from_state(state, source)
    hr_skip = any(str(k).startswith("hr_skip.") for k in state)
    if card is None:
        return GeneratorShape(mid, blocks, DEFAULT_SIZE, hr_skip=hr_skip)
    data = read_json(card)
    if not isinstance(data, dict):
        raise RestorerError(f"{card}: a model card must be a JSON object")
    card_mid = data.get("mid_channels", mid)
    card_blocks = data.get("num_blocks", blocks)
    if (card_mid, card_blocks) != (mid, blocks):
        raise RestorerError(
            f"{card}: describes mid_channels={card_mid}, num_blocks={card_blocks} but {source} "
            f"holds mid_channels={mid}, num_blocks={blocks}"
        )
    if bool(data.get("hr_skip", hr_skip)) != hr_skip:
        raise RestorerError(
            f"{card}: describes hr_skip={data.get('hr_skip')} but {source} "
            f"{'holds' if hr_skip else 'lacks'} the 'hr_skip.*' weights"
        )
    size = data.get("input_size") or DEFAULT_SIZE
    if not isinstance(size, int) or size < 8:
        raise RestorerError(f"{card}: input_size must be an integer >= 8, got {size!r}")
    frames = data.get("num_frames")
    return GeneratorShape(
        mid, blocks, size, frames if isinstance(frames, int) else None, hr_skip=hr_skip
    )


#: Autocast dtypes of the ``precision`` setting (``fp32``: none).
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}
#: Most clip shapes with a captured CUDA graph at once (each holds its own memory).
MAX_GRAPHS = 4


class GraphedForward:
    """The network's forward replayed from CUDA graphs, one per input shape.

    A shape is captured the second time it is seen (a clip of ``max_clip_frames`` comes back
    again and again; a one-off length runs eagerly); at most :data:`MAX_GRAPHS` are kept. A
    capture that fails is logged and that shape runs eagerly from then on.

    Args:
        network: the generator (on a CUDA device, eval mode).
        dtype: autocast dtype (``None``: float32).
    """

    def __init__(self, network: torch.nn.Module, dtype: torch.dtype | None) -> None:
        self.network, self.dtype = network, dtype
        self.graphs: dict[tuple[int, ...], tuple[Any, torch.Tensor, torch.Tensor]] = {}
        self.seen: set[tuple[int, ...]] = set()
        self.eager: set[tuple[int, ...]] = set()

    def _autocast(self) -> Any:
        enabled = self.dtype is not None
        return torch.autocast("cuda", dtype=self.dtype, enabled=enabled, cache_enabled=False)

    def _capture(self, x: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor]:
        static_in = x.clone()
        side = torch.cuda.Stream(device=x.device)
        side.wait_stream(torch.cuda.current_stream(x.device))
        with torch.cuda.stream(side), self._autocast():
            for _ in range(2):  # warm-up: cuDNN picks its algorithms outside the capture
                self.network(static_in)
        torch.cuda.current_stream(x.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # on the clip's GPU (cuda:N, not the thread's current device), from a stream of it;
        # thread-local: the detector's thread keeps using the GPU while this one captures
        capture = torch.cuda.graph(
            graph, stream=torch.cuda.Stream(device=x.device), capture_error_mode="thread_local"
        )
        with torch.cuda.device(x.device), capture, self._autocast():
            static_out = self.network(static_in)
        return graph, static_in, static_out

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = tuple(x.shape)
        if key not in self.graphs and key in self.seen and key not in self.eager:
            try:
                if len(self.graphs) >= MAX_GRAPHS:
                    self.graphs.pop(next(iter(self.graphs)))
                self.graphs[key] = self._capture(x)
            except RuntimeError as err:
                log.warning("CUDA graph capture of %s failed (%s): eager from now on", key, err)
                self.eager.add(key)
        self.seen.add(key)
        if key in self.graphs:
            graph, static_in, static_out = self.graphs[key]
            static_in.copy_(x)
            with torch.cuda.device(x.device):  # replayed on a stream of the clip's GPU
                graph.replay()
            return static_out
        with self._autocast():
            return self.network(x)


class BasicVSRRestorer:
    """Restores clips of square crops with the BasicVSR++ generator.

    Args:
        weights: the generator weights (any layout
            :func:`~mosaicflow.restore.weights.generator_state_dict` reads; the export is a
            plain state dict).
        card: the model card (``None``: ``model.json`` beside the weights if it names them).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        fp16: half-precision autocast (CUDA only; ignored on CPU); ``precision`` wins.
        frames_per_call: restore at most this many frames per forward pass (``None``: the
            whole clip at once).
        precision: ``fp32``, ``fp16`` or ``bf16`` autocast on CUDA (``None``: ``fp16`` when
            ``fp16``, else ``fp32``); the CPU always runs float32 (torchvision's deformable
            convolution has no bfloat16 CPU kernel).
        channels_last: channels-last weights (``None``: on CUDA only; the CPU keeps the
            layout whose results the tests pin).
        cuda_graphs: replay the forward of recurring clip shapes from CUDA graphs
            (:class:`GraphedForward`; CUDA only).

    Raises:
        RestorerError / WeightsError: the file is missing, not weights, or its keys and shapes
            do not fit a BasicVSR++ generator (both are ``ValueError`` naming the file).
    """

    def __init__(
        self,
        weights: str | Path,
        *,
        card: str | Path | None = None,
        device: str = "auto",
        fp16: bool = False,
        frames_per_call: int | None = None,
        precision: str | None = None,
        channels_last: bool | None = None,
        cuda_graphs: bool = False,
    ) -> None:
        from mosaicflow.devices import torch_device
        from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
        from mosaicflow.restore.weights import load_strict

        precision = precision or ("fp16" if fp16 else "fp32")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        if frames_per_call is not None and frames_per_call < 1:
            raise ValueError(f"frames_per_call must be at least 1, got {frames_per_call}")
        path = Path(weights)
        state, layout = generator_state_dict(read_checkpoint(path), str(path))
        card_path = Path(card) if card is not None else find_card(path)
        self.shape = generator_shape(state, str(path), card_path)
        network = BasicVSRPlusPlusNet(
            self.shape.mid_channels, self.shape.num_blocks, hr_skip=self.shape.hr_skip
        )
        load_strict(network, state, str(path))  # strict; the error names the file
        self.device = torch_device(device)
        cuda = self.device.type == "cuda"
        self.precision = precision if cuda else "fp32"
        if precision != self.precision:
            log.info("%s ignored on %s: float32", precision, self.device)
        if self.precision == "bf16" and torch.cuda.get_device_capability(self.device) < (8, 0):
            # before Ampere bfloat16 is emulated (slow) and cuDNN may lack its convolutions
            log.warning("bf16 needs an Ampere or newer GPU; %s runs fp16", self.device)
            self.precision = "fp16"
        self.fp16 = self.precision == "fp16"
        self.channels_last = bool(cuda if channels_last is None else channels_last)
        network = network.eval().to(self.device)
        if self.channels_last:
            network = network.to(memory_format=torch.channels_last)
        self.network = network
        self.graphed = GraphedForward(network, PRECISIONS[self.precision]) if cuda else None
        self.cuda_graphs = bool(cuda_graphs and cuda)
        if cuda_graphs and not cuda:
            log.info("CUDA graphs ignored on %s", self.device)
        self.input_size = self.shape.input_size
        self.frames_per_call = frames_per_call
        self.layout = layout
        log.info("restorer %s (%s): %s", path, layout, self.shape)

    @torch.inference_mode()
    def restore(self, clip: np.ndarray) -> np.ndarray:
        """Restore ``(T, S, S, 3)`` uint8 RGB crops; returns the same shape and dtype."""
        if clip.ndim != 4 or clip.shape[-1] != 3:
            raise ValueError(f"expected a clip (T, S, S, 3), got shape {clip.shape}")
        return self.restore_batch(clip[None])[0]

    @torch.inference_mode()
    def restore_batch(self, clips: np.ndarray) -> np.ndarray:
        """Restore ``(B, T, S, S, 3)`` uint8 RGB clips of one length in one forward pass per
        ``frames_per_call`` frames; returns the same shape and dtype."""
        if clips.ndim != 5 or clips.shape[-1] != 3:
            raise ValueError(f"expected clips (B, T, S, S, 3), got shape {clips.shape}")
        length = clips.shape[1]
        step = self.frames_per_call or length
        parts = [self._forward(clips[:, i : i + step]) for i in range(0, length, step)]
        return np.concatenate(parts, axis=1) if parts else clips.copy()

    def _forward(self, frames: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(frames))
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        x = x.permute(0, 1, 4, 2, 3).float().div_(255.0)
        if self.cuda_graphs and self.graphed is not None:
            y = self.graphed(x)
        else:
            dtype = PRECISIONS[self.precision]
            with torch.autocast("cuda", dtype=dtype or torch.float16, enabled=dtype is not None):
                y = self.network(x)
        y = y.float().clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
        return y.permute(0, 1, 3, 4, 2).cpu().numpy()


def describe(restorer: Any) -> dict[str, Any]:
    """A JSON-ready description of a restorer (for summaries)."""
    shape = getattr(restorer, "shape", None)
    return {"input_size": int(restorer.input_size)} | (
        {
            "mid_channels": shape.mid_channels,
            "num_blocks": shape.num_blocks,
            "hr_skip": shape.hr_skip,
        }
        if shape
        else {}
    )


__all__ = ["BasicVSRRestorer", "RestorerError", "WeightsError", "generator_shape"]
