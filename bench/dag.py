"""Benchmark: dry-run time of the workflow for many videos, against a minimal Snakefile.

Usage: ``python bench/dag.py [--sizes 1000 10000] [--goal 2.0] [--floor 3.0]``.

For each size a video sheet of that many tiny placeholder videos (empty ``.mp4`` files: a dry
run never opens them) is written to a temporary folder and ``snakemake -n`` runs the repository's
Snakefile on it (``source.kind: videos``). The same number of jobs is then planned by a minimal
Snakefile (one trivial rule per video, one aggregate, ``all``), so the ratio shows what the
workflow adds on top of Snakemake's own DAG cost (config validation, the sheet, input functions,
code hashes). Records ``dag`` in results/bench.json: seconds, job counts, per-video rule count and
the ratio per size, PASS if every ratio <= goal (WARN <= floor, else FAIL).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import record, verdict

REPO = Path(__file__).resolve().parents[1]
GOAL, FLOOR = 2.0, 3.0

MINIMAL_SNAKEFILE = """\
import csv

with open(config["sheet"], newline="") as handle:
    IDS = [Path(row["path"]).stem for row in csv.DictReader(handle, delimiter="\\t")]
STEPS = int(config["steps"])


rule all:
    input:
        "gathered.txt",


for k in range(STEPS):

    rule:
        name:
            f"step{k}"
        input:
            "videos/{v}.mp4" if k == 0 else f"out{k - 1}/{{v}}.txt",
        output:
            f"out{k}/{{v}}.txt",
        shell:
            "touch {output}"


rule gather:
    input:
        expand("out{k}/{v}.txt", k=STEPS - 1, v=IDS),
    output:
        "gathered.txt",
    shell:
        "touch {output}"
"""


def write_sheet(folder: Path, n: int) -> Path:
    """``n`` empty placeholder videos and a sheet listing them (relative paths)."""
    videos = folder / "videos"
    videos.mkdir(parents=True)
    lines = ["path\trole"]
    for i in range(n):
        name = f"clip-{i:06d}.mp4"
        (videos / name).touch()
        lines.append(f"videos/{name}\tunlabelled")
    sheet = folder / "sheet.tsv"
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


def dry_run(snakefile: Path, workdir: Path, *args: str) -> tuple[float, dict[str, int]]:
    """Seconds of ``snakemake -n`` and its job-count table."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--cores",
        "1",
        "-n",
        "--quiet",
        "rules",
        *args,
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"dry run failed: {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr}")
    counts = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", proc.stdout + proc.stderr, re.MULTILINE)
    }
    counts.pop("total", None)
    return seconds, counts


def measure(n: int) -> dict[str, object]:
    """Dry-run the workflow and the minimal Snakefile on a sheet of ``n`` videos."""
    with tempfile.TemporaryDirectory(prefix=f"mosaicflow-dag-{n}-") as tmp:
        root = Path(tmp)
        sheet = write_sheet(root / "data", n)
        config = root / "videos.yaml"
        config.write_text(f"source:\n  kind: videos\n  videos: {str(sheet)!r}\n")
        (root / "work").mkdir()
        seconds, counts = dry_run(REPO / "Snakefile", root / "work", "--configfile", str(config))
        jobs = sum(counts.values())
        per_video = sorted(rule for rule, count in counts.items() if count >= n)

        # The same number of jobs: a chain of `steps` trivial rules per video, one aggregate, all.
        steps = max(1, round((jobs - 2) / n))
        minimal = root / "minimal"
        minimal.mkdir()
        (minimal / "videos").symlink_to(sheet.parent / "videos")
        (minimal / "Snakefile").write_text(MINIMAL_SNAKEFILE)
        base_seconds, base_counts = dry_run(
            minimal / "Snakefile", minimal, "--config", f"sheet={sheet}", f"steps={steps}"
        )
        base_jobs = sum(base_counts.values())
    return {
        "videos": n,
        "jobs": jobs,
        "jobs_by_rule": counts,
        "per_video_rules": per_video,
        "seconds": round(seconds, 2),
        "minimal_jobs": base_jobs,
        "minimal_seconds": round(base_seconds, 2),
        "ratio": round(seconds / base_seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure every size, record the figures and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--goal", type=float, default=GOAL, help="max ratio for PASS")
    parser.add_argument("--floor", type=float, default=FLOOR, help="max ratio for WARN")
    args = parser.parse_args(argv)
    runs = []
    for n in args.sizes:
        runs.append(measure(n))
        print(runs[-1], flush=True)
    worst = max(run["ratio"] for run in runs)
    result = verdict(worst, args.goal, args.floor, higher_is_better=False)
    record(
        "dag",
        {
            "metric": "dry-run seconds of the workflow / a minimal Snakefile, same job count",
            "goal": args.goal,
            "floor": args.floor,
            "worst_ratio": worst,
            "verdict": result,
            "runs": runs,
        },
    )
    return 0 if result != "FAIL" else 1


if __name__ == "__main__":
    raise SystemExit(main())
