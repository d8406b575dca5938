"""Convert stage 1 -> stage 2, and export the EMA generator for inference with a model card.

Stage-2 checkpoints use the published layout: one flat state dict whose keys are prefixed
``generator.``, ``generator_ema.`` and ``discriminator.`` (what
:func:`mosaicflow.restore.weights.generator_state_dict` reads). The export holds only the EMA
generator, unprefixed, in the reference key layout (loads with ``strict=True`` into
:class:`~mosaicflow.restore.basicvsrpp.BasicVSRPlusPlusNet`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from mosaicflow.io import read_json, save_torch, write_json
from mosaicflow.restore.config import ConvertJob, ExportJob
from mosaicflow.restore.weights import WeightsError, generator_state_dict, read_checkpoint

PREFIXES = ("generator.", "generator_ema.", "discriminator.")
CARD_VERSION = 1


def split_stage2(obj: Any, source: str) -> dict[str, dict[str, torch.Tensor]]:
    """Split a stage-2 state dict into ``generator``, ``generator_ema``, ``discriminator``.

    Raises:
        WeightsError: naming ``source`` when a part is missing or a key has no known prefix.
    """
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{source}: expected a state dict, got {type(obj).__name__}")
    parts: dict[str, dict[str, torch.Tensor]] = {p[:-1]: {} for p in PREFIXES}
    for key, value in obj.items():
        prefix = next((p for p in PREFIXES if str(key).startswith(p)), None)
        if prefix is None:
            raise WeightsError(f"{source}: key {key!r} has none of the prefixes {PREFIXES}")
        parts[prefix[:-1]][str(key)[len(prefix) :]] = value
    empty = [name for name, part in parts.items() if not part]
    if empty:
        raise WeightsError(f"{source}: no {', '.join(empty)} weights")
    return parts


def join_stage2(parts: Mapping[str, Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The flat prefixed state dict of ``generator``/``generator_ema``/``discriminator`` parts."""
    return {
        f"{name}.{key}": value.detach().cpu()
        for name in ("generator", "generator_ema", "discriminator")
        for key, value in parts[name].items()
    }


def convert(job: ConvertJob, stage1_weights: Path, out: Path, *, seed: int) -> Path:
    """Stage-1 generator -> stage-2 initial state (generator, EMA generator, new discriminator).

    Args:
        job: the generator's shape and the discriminator's channels.
        stage1_weights: the stage-1 generator (any layout
            :func:`~mosaicflow.restore.weights.load_generator_weights` reads).
        out: the stage-2 initial checkpoint (published prefixed layout), written atomically.
        seed: seed of the discriminator's initialisation.

    Returns:
        ``out``.

    Raises:
        WeightsError: the stage-1 file does not fit the configured generator (names it).
    """
    from mosaicflow.restore.models import build_discriminator, build_generator
    from mosaicflow.restore.weights import load_generator_weights

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = build_generator(job)
        load_generator_weights(generator, Path(stage1_weights))
        discriminator = build_discriminator(job.stage2_disc_mid_channels)
    state = generator.state_dict()
    parts = {
        "generator": state,
        "generator_ema": state,
        "discriminator": discriminator.state_dict(),
    }
    save_torch(join_stage2(parts), out)
    return Path(out)


def _stage_summary(metrics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if metrics is None:
        return None
    keys = ("iterations", "losses", "loss_curve", "validation", "baselines", "notes", "config")
    return {k: metrics.get(k) for k in keys} | {"resumed_from": metrics.get("resumed_from")}


def export(
    job: ExportJob,
    stage2_weights: Path,
    out: Path,
    card_out: Path,
    *,
    stage1_metrics: Path | None = None,
    stage2_metrics: Path | None = None,
    data_hash: str | None = None,
    config_hash: str | None = None,
    code_hash: str | None = None,
) -> dict[str, Any]:
    """Write the EMA generator for inference and its model card.

    Args:
        job: the network's shape and both stages' settings (clip size and frames of the card).
        stage2_weights: the stage-2 output (prefixed layout; ``generator_ema.`` is taken, else
            ``generator.``).
        out: the generator state dict (reference key layout, no prefix), written atomically.
        card_out: the model card JSON.
        stage1_metrics: metrics JSON of stage 1 (``StageResult.to_dict()``), if any.
        stage2_metrics: metrics JSON of stage 2, if any.
        data_hash: hash of the training data.
        config_hash: hash of the restoration config.
        code_hash: hash of the package code.

    Returns:
        The model card.

    Raises:
        WeightsError: the file has no generator or it does not fit the configured network.
    """
    from mosaicflow.restore.models import build_generator
    from mosaicflow.restore.weights import load_strict

    state, layout = generator_state_dict(read_checkpoint(stage2_weights), str(stage2_weights))
    network = build_generator(job)
    load_strict(network, state, str(stage2_weights))  # strict, with a useful error
    save_torch({k: v.detach().cpu().contiguous() for k, v in state.items()}, out)
    s1 = _stage_summary(read_json(stage1_metrics) if stage1_metrics else None)
    s2 = _stage_summary(read_json(stage2_metrics) if stage2_metrics else None)
    last = (s2 or s1 or {}).get("validation") or []
    stage_cfg = job.stage2
    card = {
        "version": CARD_VERSION,
        "model": "BasicVSR++ (same-resolution restoration)",
        "weights": Path(out).name,
        "source_layout": layout,
        "mid_channels": job.mid_channels,
        "num_blocks": job.num_blocks,
        "hr_skip": bool(job.hr_skip),
        "input_size": stage_cfg.size,
        "num_frames": stage_cfg.num_frames,
        "iterations": {
            "stage1": s1["iterations"] if s1 else None,
            "stage2": s2["iterations"] if s2 else None,
        },
        "stage1": s1,
        "stage2": s2,
        "final_validation": last[-1] if last else None,
        "baselines": (s2 or s1 or {}).get("baselines"),
        "notes": [*(s1 or {}).get("notes", []), *(s2 or {}).get("notes", [])],
        "data_hash": data_hash,
        "config_hash": config_hash,
        "code_hash": code_hash,
    }
    write_json(card_out, card)
    return card
