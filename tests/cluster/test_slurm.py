"""The SLURM path, for real: the workflow through `--profile profiles/slurm` on a one-node cluster.

The tiny config's datasets are built on the cluster, every job through sbatch (checked in the
controller's job table); a local run in the same folder builds the models from them, and the
deterministic outputs equal a wholly local run's byte for byte. A second, tiny workflow checks
what the mosaicflow rules cannot show: a `resources: gpu=1` job is handed the (fake) GPU, and a
failed job is resubmitted with more memory, as the profile promises.

Every test that uses the cluster lives in this file: `make test` runs the suite with pytest-xdist's
``--dist loadfile``, which keeps a file's tests on one worker, so the session starts one cluster.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, digest_tree, planned_jobs, run_snakemake, text_differences

PROFILE = REPO / "profiles" / "slurm"
TINY = REPO / "config" / "test-tiny.yaml"
#: Wall-clock cap of one cluster run.
RUN_TIMEOUT_S = 900
#: Test-only: poll the queue every few seconds instead of the plugin's 40 s first wait.
FAST_POLLING = (
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--seconds-between-status-checks",
    "3",
)


def run_on_cluster(
    cluster, workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile"
) -> subprocess.CompletedProcess[str]:
    """Run Snakemake with the SLURM profile in ``workdir``, wrapped in `timeout`."""
    cmd = [
        "timeout",
        "-k",
        "15",
        str(RUN_TIMEOUT_S),
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--profile",
        str(PROFILE),
        *FAST_POLLING,
        *args,
    ]
    started = time.monotonic()
    proc = subprocess.run(
        cmd,
        cwd=workdir,
        capture_output=True,
        text=True,
        env=cluster.env,
        timeout=RUN_TIMEOUT_S + 60,
    )
    took = time.monotonic() - started
    print(f"cluster run took {took:.0f} s: {' '.join(cmd)}")
    if proc.returncode != 0:
        slurm_logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
        tails = "\n".join(f"--- {p} ---\n{p.read_text()[-2000:]}" for p in slurm_logs[-3:])
        raise AssertionError(
            f"snakemake on SLURM failed ({proc.returncode}"
            f"{', timed out' if proc.returncode in (124, 137) else ''}) after {took:.0f} s\n"
            f"--- stderr ---\n{proc.stderr[-8000:]}\n{tails}\n{cluster.logs_tail()}"
        )
    return proc


def jobs_of(cluster, workdir: Path) -> list[dict[str, str]]:
    """The cluster's jobs that ran in ``workdir`` (sbatch -D), oldest first."""
    jobs = [j for j in cluster.jobs() if Path(j.get("WorkDir", "")) == workdir]
    return sorted(jobs, key=lambda j: int(j["JobId"]))


def rule_of(job: dict[str, str]) -> str:
    """The rule name the SLURM plugin writes into the job comment (rule_<name>[_wildcards_...])."""
    comment = job.get("Comment", "")
    assert comment.startswith("rule_"), job
    return comment.removeprefix("rule_").split("_wildcards_")[0]


def host_rules() -> set[str]:
    """The workflow's rules that declare ``localrule: True`` (never submitted to a cluster)."""
    pattern = re.compile(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)*)", re.M)
    names = set()
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        for name, body in pattern.findall(path.read_text()):
            if re.search(r"^\s+localrule: True$", body, re.M):
                names.add(name)
    return names


def local_rules(stdout_and_err: str) -> dict[str, int]:
    """{rule: jobs} of a local run's log (`localrule x:` and `localcheckpoint x:` lines)."""
    counts: dict[str, int] = {}
    for line in stdout_and_err.splitlines():
        kind, _, name = line.partition(" ")
        if kind in ("localrule", "localcheckpoint") and name.endswith(":"):
            counts[name[:-1]] = counts.get(name[:-1], 0) + 1
    return counts


#: What the cluster run builds: both datasets. That half of the tiny DAG holds every kind of job
#: the cluster sees (per-video jobs fanned out, the clip checkpoint, GPU trainings whose models
#: later jobs load, a `localrule` aggregate); the models' half is the same kinds again, and the
#: test finishes it with a local run in the same folder.
CLUSTER_TARGETS = ("results/restoration_dataset/index.parquet", "results/detection_dataset")


@pytest.mark.slurm
@pytest.mark.workflow
def test_tiny_config_on_slurm_equals_local_run(slurm_cluster, request, tmp_path):
    remote = tmp_path / "slurm"
    remote.mkdir()
    cluster_half = planned_jobs(
        run_snakemake(remote, "-n", *CLUSTER_TARGETS, configfiles=[TINY]).stdout
    )
    assert {"extract_frames", "build_restoration_clips", "train_model"} <= set(cluster_half)

    run = run_on_cluster(slurm_cluster, remote, *CLUSTER_TARGETS, "--configfile", str(TINY))
    resubmitted = "checkpointed trainings are resubmitted up to 10 times"
    assert resubmitted in run.stderr  # set once the executor is known, a cluster's only

    # Every job that computes something went through sbatch and completed there.
    jobs = jobs_of(slurm_cluster, remote)
    assert jobs, f"no SLURM job ran in {remote}\n{run.stderr[-4000:]}"
    assert {j["JobState"] for j in jobs} == {"COMPLETED"}, [
        (j["JobId"], rule_of(j), j["JobState"]) for j in jobs
    ]
    assert any("gpu:1" in j.get("TresPerJob", "") for j in jobs), "no GPU training was submitted"
    # The small aggregates (`localrule: True`) ran in the submitting Snakemake instead.
    submitted: dict[str, int] = {}
    for job in jobs:
        submitted[rule_of(job)] = submitted.get(rule_of(job), 0) + 1
    on_host = local_rules(run.stderr)
    assert on_host and set(on_host) <= host_rules(), (on_host, host_rules())
    assert not set(on_host) & set(submitted)
    assert {**submitted, **on_host} == cluster_half
    assert run.stderr.count("has been submitted with SLURM jobid") == len(jobs)

    # A local run takes the cluster's outputs as they are and builds the rest, nothing twice.
    rest = run_snakemake(remote, configfiles=[TINY])
    assert resubmitted not in rest.stderr
    # The wholly local run is the tiny tests' own, asked for only now: another pytest worker
    # can build it while the cluster runs. This is also the suite's rerun check (same config,
    # same bytes) where SLURM is installed.
    local = request.getfixturevalue("tiny_run")
    local_jobs = local_rules((local / "run.log").read_text())
    assert local_jobs.get("extract_frames", 0) >= 2, local_jobs
    rest_jobs = local_rules(rest.stdout + rest.stderr)
    both = {name: rest_jobs.get(name, 0) + cluster_half.get(name, 0) for name in local_jobs}
    assert both == local_jobs and set(rest_jobs) | set(cluster_half) <= set(local_jobs)

    # Same bytes as the local run, and nothing left to do.
    local_digests = digest_tree(local / "results")
    remote_digests = digest_tree(remote / "results")
    assert sorted(remote_digests) == sorted(local_digests)
    differing = [n for n in local_digests if local_digests[n] != remote_digests[n]]
    assert differing == [], text_differences(local / "results", remote / "results", differing)
    dry = run_snakemake(remote, "-n", configfiles=[TINY])
    assert planned_jobs(dry.stdout) == {}


GPU_SNAKEFILE = """\
rule all:
    input:
        "gpu.txt",
        "flaky.txt",


rule on_gpu:
    output:
        "gpu.txt",
    resources:
        gpu=1,
    shell:
        "echo ${{CUDA_VISIBLE_DEVICES:-none}} > {output}"


rule flaky:
    output:
        "flaky.txt",
    shell:
        # Fails on its first attempt, as a job killed for memory would.
        "if [ -e tried ]; then echo {resources.mem_mb} > {output}; else touch tried; exit 3; fi"
"""


@pytest.mark.slurm
@pytest.mark.workflow
def test_gpu_rule_gets_the_gpu_and_a_failed_job_gets_more_memory(slurm_cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(GPU_SNAKEFILE)
    run_on_cluster(slurm_cluster, tmp_path, snakefile=tmp_path / "Snakefile")

    jobs = jobs_of(slurm_cluster, tmp_path)
    gpu_jobs = [j for j in jobs if rule_of(j) == "on_gpu"]
    assert len(gpu_jobs) == 1
    assert gpu_jobs[0]["JobState"] == "COMPLETED"
    assert "gpu:1" in gpu_jobs[0].get("TresPerJob", ""), gpu_jobs[0]
    # SLURM hands the job the fake device's index: the GRES was really allocated.
    assert (tmp_path / "gpu.txt").read_text().strip() == "0"

    flaky = [j for j in jobs if rule_of(j) == "flaky"]
    assert [j["JobState"] for j in flaky] == ["FAILED", "COMPLETED"]
    first, second = (int(j["MinMemoryNode"].rstrip("M")) for j in flaky)
    assert second > first
    assert int((tmp_path / "flaky.txt").read_text()) == second


@pytest.mark.skipif(not os.environ.get("CI"), reason="only CI must have the SLURM test cluster")
def test_ci_can_start_the_cluster():
    # The `slurm` tests above are skipped (loudly) where SLURM is missing; in CI that would hide
    # the cluster path, so CI fails here instead.
    # (The config place is not checked here: the session's own cluster may hold it right now.)
    from tests.cluster.conftest import _missing_packages

    assert _missing_packages() is None
