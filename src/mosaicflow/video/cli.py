"""``mosaicflow frames``: build the frame index of one video outside Snakemake."""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

from mosaicflow.config import build, load_schema, schema_section
from mosaicflow.writing import writing_into


def _defaults(section: dict[str, Any]) -> Any:
    """Defaults of a schema section, recursively."""
    out = {}
    for name, sub in section.get("properties", {}).items():
        if sub.get("type") == "object" and sub.get("properties"):
            out[name] = _defaults(sub)
        else:
            out[name] = copy.deepcopy(sub.get("default"))
    return out


def _option(path: list[Any]) -> str:
    """The ``frames`` option of a ``frames`` config key (``decode_threads`` is ``--threads``)."""
    name = str(path[-1])
    return "--threads" if name == "decode_threads" else f"--{name.replace('_', '-')}"


def frames_config(overrides: dict[str, Any] | None = None) -> Any:
    """The ``frames`` config from the schema defaults plus ``overrides`` (nested mappings merge)."""
    import jsonschema

    from mosaicflow.config import ConfigError
    from mosaicflow.video.config import FramesConfig

    section = schema_section(load_schema(), "frames")
    values = _defaults(dict(section))
    for key, value in (overrides or {}).items():
        if isinstance(value, dict):
            values[key].update(value)
        else:
            values[key] = value
    errors = [  # the options take the config keys' limits (at least 1 frame, 0-100 scenes...)
        f"{_option(list(error.absolute_path))} "
        f"(frames.{'.'.join(map(str, error.absolute_path))}): {error.message}"
        for error in jsonschema.Draft202012Validator(section).iter_errors(values)
        if error.absolute_path
    ]
    if errors:
        raise ConfigError("invalid frames settings:\n  " + "\n  ".join(sorted(errors)))
    return build(FramesConfig, values)


def _run(args: argparse.Namespace) -> int:
    from mosaicflow.video.frames import extract_frames

    mp: dict[str, Any] = {}
    if args.preset is not None:
        mp["preset"] = None if args.preset == "none" else args.preset
    for key in ("hi", "lo", "frac", "max", "keep"):
        value = getattr(args, key)
        if value is not None:
            mp[key] = value
            if key in ("hi", "lo", "frac") and args.preset is None:
                mp["preset"] = None  # explicit thresholds replace the default preset
    if args.ffmpeg_version is not None:
        mp["ffmpeg_version"] = args.ffmpeg_version
    overrides: dict[str, Any] = {"mpdecimate": mp}
    for key in ("scene_threshold", "every_n", "max_frames", "skip_start_s", "skip_end_s"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    if args.threads is not None:
        overrides["decode_threads"] = args.threads
    cfg = frames_config(overrides)
    with writing_into(args.output, "frames", [args.video]) as out:
        result = extract_frames(cfg, Path(args.video), out / "index.parquet", out / "probe.json")
    print(
        f"{result.video}: {result.frames} frames, {result.kept} kept, "
        f"{result.duplicates} near-duplicates, {result.scenes} scenes -> {out}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``frames`` subcommand."""
    p = subparsers.add_parser(
        "frames",
        help="decode a video, drop near-duplicates (mpdecimate), find scenes, write its index",
        description=(
            "Decode VIDEO once and write OUTPUT/index.parquet (one row per frame: number, pts, "
            "time, kept or the drop reason, scene) and OUTPUT/probe.json. Defaults come from the "
            "`frames:` section of config/schema.yaml."
        ),
    )
    p.add_argument("video", help="the video file")
    p.add_argument("--output", "-o", required=True, help="output folder")
    p.add_argument(
        "--preset",
        choices=["default", "anime", "none"],
        help="mpdecimate preset (default: hi=768 lo=320 frac=0.33; anime: hi=12800 lo=3200); "
        "'none' uses --hi/--lo/--frac",
    )
    p.add_argument("--hi", type=int, help="mpdecimate hi (implies --preset none)")
    p.add_argument("--lo", type=int, help="mpdecimate lo (implies --preset none)")
    p.add_argument("--frac", type=float, help="mpdecimate frac (implies --preset none)")
    p.add_argument("--max", type=int, help="mpdecimate max (>0 max drops in a row, <0 interval)")
    p.add_argument("--keep", type=int, help="mpdecimate keep (needs --ffmpeg-version 7.1)")
    p.add_argument("--ffmpeg-version", choices=["5.1", "7.1"], help="mpdecimate rule set")
    p.add_argument("--scene-threshold", type=float, help="scdet threshold (0-100)")
    p.add_argument("--every-n", type=int, help="keep every n-th non-duplicate frame")
    p.add_argument("--max-frames", type=int, help="at most this many frames (evenly spaced)")
    p.add_argument("--skip-start-s", type=float, help="ignore the first seconds")
    p.add_argument("--skip-end-s", type=float, help="ignore the last seconds")
    p.add_argument("--threads", type=int, help="decoder threads (0 = all cores)")
    p.set_defaults(func=_run)
