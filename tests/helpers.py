"""Helpers shared by the workflow tests: run Snakemake in a work folder, make tiny videos."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
OFFLINE_DIR = REPO / "tests" / "offline"


def snakemake_base_cmd(workdir: Path, snakefile: Path | None = None) -> list[str]:
    """Snakemake on the repo's Snakefile (or ``snakefile``) in ``workdir``, as a 2-core machine
    with one GPU slot runs it."""
    return [
        sys.executable, "-m", "snakemake", "--snakefile", str(snakefile or REPO / "Snakefile"),
        "--directory", str(workdir), "--cores", "2", "--resources", "gpu=1",
    ]  # fmt: skip


def run_snakemake(
    workdir: Path,
    *args: str,
    configfiles: Sequence[Path] = (),
    snakefile: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 1800,
) -> subprocess.CompletedProcess[str]:
    """Run Snakemake on the repo's Snakefile with ``workdir`` as working directory.

    Output paths (``results/...``) land in ``workdir``; ``config/config.yaml`` is the base
    configuration and ``configfiles`` are layered on top, in order.
    """
    cmd = snakemake_base_cmd(workdir, snakefile)
    if configfiles:
        cmd += ["--configfile", *map(str, configfiles)]
    cmd += list(args)
    proc = subprocess.run(
        cmd,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-12000:]}"
        )
    return proc


#: Outputs that legitimately differ between runs: timings, logs, and the training state folders
#: (``results/<stage>/_work/``: checkpoints and caches that are not declared outputs).
VOLATILE_TOP = ("logs", "benchmarks")
VOLATILE_PART = "_work"


def digest_tree(results: Path) -> dict[str, str]:
    """Hash every deterministic output; absolute paths to the work folder are normalised."""
    digests = {}
    for path in sorted(results.rglob("*")):
        rel = path.relative_to(results)
        if path.is_dir() or rel.parts[0] in VOLATILE_TOP or VOLATILE_PART in rel.parts:
            continue
        data = path.read_bytes().replace(str(results.parent).encode(), b"<workdir>")
        digests[rel.as_posix()] = hashlib.sha256(data).hexdigest()
    return digests


#: Files whose differing lines :func:`text_differences` shows.
TEXT_SUFFIXES = (".json", ".yaml", ".txt", ".csv")


def text_differences(left: Path, right: Path, names: list[str], limit: int = 100) -> str:
    """What :func:`digest_tree` saw differ between two results folders: the names, then the
    differing lines of the text files among them (work-folder paths normalised the same way)."""
    import difflib

    def lines(results: Path, name: str) -> list[str]:
        text = (results / name).read_text(errors="replace")
        return text.replace(str(results.parent), "<workdir>").splitlines()

    out = [f"differing: {names}"]
    for name in names:
        if Path(name).suffix in TEXT_SUFFIXES:
            out += difflib.unified_diff(
                lines(left, name), lines(right, name), f"{left.parent.name}/{name}",
                f"{right.parent.name}/{name}", n=1, lineterm="",
            )  # fmt: skip
    return "\n".join(out[:limit])


def planned_jobs(dry_run_output: str) -> dict[str, int]:
    """Parse the job-count table of a dry run into {rule: count}."""
    counts: dict[str, int] = {}
    in_table = False
    for line in dry_run_output.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table:
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] != "total":
                    counts[parts[0]] = int(parts[1])
            elif parts and not set(parts[0]) <= {"-"}:
                break
    return counts


def write_video(
    path: Path,
    frames: int = 24,
    size: tuple[int, int] = (96, 64),
    fps: int = 12,
    seed: int = 0,
    static_every: int = 4,
) -> Path:
    """Write a small H.264 video of a moving textured square (with repeated frames)."""
    import av

    rng = np.random.default_rng(seed)
    width, height = size
    texture = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18", "threads": "1"}
        image = np.zeros((height, width, 3), np.uint8)
        for i in range(frames):
            if i % static_every != 1:
                image = np.roll(texture, shift=3 * i, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def snakemake_cmd(workdir: Path, configfiles: list[Path], *targets: str) -> list[str]:
    return [
        *snakemake_base_cmd(workdir), "--configfile", *map(str, configfiles), "--", *targets
    ]  # fmt: skip


def kill_at_first_checkpoint(
    workdir: Path, configfiles: list[Path], target: str, pattern: str, *, limit_s: float = 600
) -> Path:
    """Run Snakemake on ``target`` and SIGKILL it with its jobs (as a power cut or an OOM kill
    would) once a loadable checkpoint matches the glob ``pattern`` under ``workdir``; return
    that checkpoint. The run's output goes to ``workdir/first.log``, quoted if it ends first."""
    log_path = workdir / "first.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            snakemake_cmd(workdir, configfiles, target), cwd=workdir, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + limit_s
        try:
            while True:
                found = [p for p in sorted(workdir.glob(pattern)) if loadable(p)]
                if found:
                    return found[0]
                assert proc.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, f"no {pattern} after {limit_s:.0f} s"
                time.sleep(0.1)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and the training job, mid-run
            proc.wait()


def loadable(path: Path) -> bool:
    import torch

    try:
        return isinstance(torch.load(path, map_location="cpu", weights_only=False), dict)
    except Exception:
        return False


def copy_run(results: Path, work: Path) -> Path:
    """A copy of a finished run in ``work`` (created here) that shares the run's (never rewritten)
    result files by hard links and has its own Snakemake metadata; return ``work``."""
    work.mkdir()
    subprocess.run(["cp", "-al", str(results), str(work / "results")], check=True)
    meta = results.parent / ".snakemake" / "metadata"
    if meta.is_dir():
        shutil.copytree(meta, work / ".snakemake" / "metadata")
    return work


def session_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of this whole test session: shared by its pytest-xdist workers (each
    worker's own ``tmp_path_factory`` folder lies below it), the session's own without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once_per_session(folder: Path, name: str, build: Callable[[], None]) -> None:
    """Run ``build`` once in this test session, however many pytest-xdist workers ask for it.

    The first worker to ask runs it while the others wait on a lock in ``folder`` (the
    session's folder); they then use what it built, or fail at once with its error instead of
    repeating a failed run.
    """
    outcome = folder / f"{name}.outcome"
    with FileLock(folder / f"{name}.lock"):
        if outcome.is_file():
            if (text := outcome.read_text()) != "ok":
                pytest.fail(f"{name} failed in another pytest worker:\n{text}")
            return
        try:
            build()
        except BaseException as error:
            outcome.write_text(f"{type(error).__name__}: {error}"[-8000:])
            raise
        outcome.write_text("ok")


def spread(frames: Sequence[int], count: int) -> list[int]:
    """``count`` evenly spaced items of ``frames`` (all of them when there are fewer)."""
    if len(frames) <= count:
        return list(frames)
    return [frames[round(i * (len(frames) - 1) / (count - 1))] for i in range(count)]


def truth_frames(truth_json: Path, key: str, count: int) -> list[int]:
    """``count`` evenly spaced frames of a world truth JSON whose ``key`` (``instances``,
    ``watermarks``) is not empty."""
    import json

    per_frame = json.loads(truth_json.read_text())["per_frame"]
    return spread([p["frame"] for p in per_frame if p[key]], count)


def union_mask(result, shape: tuple[int, int]):
    """One ultralytics result's masks drawn from their polygons at ``shape`` (None: no mask)."""
    import cv2

    if result.masks is None or not len(result.masks):
        return None
    mask = np.zeros(shape, np.uint8)
    for polygon in result.masks.xy:
        if len(polygon):
            cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return mask.astype(bool)


def box_iou(a, b) -> float:
    """IoU of two ``x0 y0 x1 y1`` boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def onnx_and_weights_predictions(
    ultralytics, models: Path, video: Path, frames: Sequence[int], task: str, imgsz: int
) -> list[tuple]:
    """Per frame of ``video``, the results of ``best.pt`` and of ``best.onnx`` (onnxruntime),
    both at conf 0.25 on the same square letterbox the fixed-size export takes."""
    from mosaicflow.video.decode import iter_frames

    images = [np.ascontiguousarray(rgb[..., ::-1]) for _, rgb in iter_frames(video, frames)]
    assert len(images) == len(frames), (video, frames)
    results = []
    for weights in ("best.pt", "best.onnx"):
        model = ultralytics.YOLO(str(models / weights), task=task)
        results.append(
            model.predict(images, imgsz=imgsz, conf=0.25, device="cpu", rect=False, verbose=False)
        )
    return list(zip(*results, strict=True))


def assert_masks_agree(pairs: list[tuple], shape: tuple[int, int], min_found: int) -> None:
    """The ONNX export finds what the weights find, mask for mask (IoU >= 0.95 per frame), on
    frames where the weights find something on at least ``min_found`` of them."""
    found = 0
    for pt_result, onnx_result in pairs:
        pt, onnx = union_mask(pt_result, shape), union_mask(onnx_result, shape)
        if pt is None or onnx is None:
            assert pt is None and onnx is None, "one model found a mask, the other none"
            continue
        found += 1
        iou = np.logical_and(pt, onnx).sum() / max(1, np.logical_or(pt, onnx).sum())
        assert iou >= 0.95, iou
    assert found >= min_found, f"the weights found masks on {found} of {len(pairs)} frames"


def assert_boxes_agree(pairs: list[tuple], min_found: int) -> None:
    """The ONNX export gives the boxes of the weights, class for class (IoU >= 0.9 each), on
    frames where the weights find something on at least ``min_found`` of them."""
    found = 0
    for pt_result, onnx_result in pairs:
        pt = list(zip(pt_result.boxes.cls.tolist(), pt_result.boxes.xyxy.tolist(), strict=True))
        onnx = list(
            zip(onnx_result.boxes.cls.tolist(), onnx_result.boxes.xyxy.tolist(), strict=True)
        )
        assert len(pt) == len(onnx), (pt, onnx)
        found += bool(pt)
        for cls, box in pt:
            best = max((box_iou(box, b) for c, b in onnx if c == cls), default=0.0)
            assert best >= 0.9, (cls, box, onnx)
    assert found >= min_found, f"the weights found boxes on {found} of {len(pairs)} frames"


def demo_world_videos(role: str = "test") -> dict[str, int]:
    """The demo world's videos of ``role`` (``test``: where every quality figure is scored) and
    their frame counts, from the demo config (config/config.yaml), in order."""
    import yaml

    from mosaicflow.config import validate_config
    from mosaicflow.plan.run import world_specs

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate_config(config)
    return {spec.name: spec.frames for spec in world_specs(config) if spec.role == role}


def world_frames(role: str = "test") -> int:
    """Frames of the demo world's videos of ``role``, from the demo config."""
    return sum(demo_world_videos(role).values())


def report_contents(html: str) -> tuple[dict, dict]:
    """The ``results`` and ``categories`` tables Snakemake embeds in its single-file report
    (``<script id="results">var results = {...};</script>``: per file its caption HTML, labels,
    MIME type and a base64 data URI)."""
    import json
    import re

    tables = []
    for name in ("results", "categories"):
        found = re.search(rf'<script id="{name}">\s*var {name} = (.*?);\s*</script>', html, re.S)
        assert found is not None, f"no {name} table in the report"
        tables.append(json.loads(found.group(1)))
    return tables[0], tables[1]
