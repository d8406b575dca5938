"""Model jobs hold a GPU slot only where a GPU runs their model: the plan of a CPU run lets
region inference jobs of several videos run side by side, one thread each; a GPU run queues
them on its slots, with two threads to feed the GPU."""

from __future__ import annotations

import re

import pytest

from tests.helpers import REPO, run_snakemake

pytestmark = pytest.mark.workflow

TINY = REPO / "config" / "test-tiny.yaml"
MODEL_RULES = {
    "train_model",
    "infer_regions",
    "evaluate_model",
    "train_restoration_stage1",
    "build_restoration_clips",
}


def planned_claims(stdout: str) -> dict[str, set[tuple[int, int]]]:
    """{rule: {(threads, gpu)}} of a dry run's job listing."""
    claims: dict[str, set[tuple[int, int]]] = {}
    for block in re.split(r"\n(?=\[|(?:local)?(?:rule|checkpoint) \w+:)", stdout):
        name = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block)
        if name is None:
            continue
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        gpu = re.search(r"^\s+resources: .*\bgpu=(\d+)", block, re.M)
        claims.setdefault(name.group(1), set()).add(
            (int(threads.group(1)) if threads else 1, int(gpu.group(1)) if gpu else 0)
        )
    return claims


@pytest.mark.parametrize(
    ("device", "gpu", "inference_threads"),
    [("cpu", 0, 1), ("cuda", 1, 2)],
)
def test_model_jobs_claim_a_slot_where_a_gpu_runs_them(tmp_path, device, gpu, inference_threads):
    proc = run_snakemake(tmp_path, "-n", "--config", f"device={device}", configfiles=[TINY])
    claims = planned_claims(proc.stdout)
    assert set(claims) >= MODEL_RULES, sorted(claims)
    for rule in MODEL_RULES:
        assert {claimed for _, claimed in claims[rule]} == {gpu}, (rule, claims[rule])
    assert claims["infer_regions"] == {(inference_threads, gpu)}
    # rules without a model never claim the GPU, nor does the sampling without a censor detector
    assert claims["extract_frames"] == {(1, 0)}
    assert claims["build_detection_samples"] == {(1, 0)}
