"""The SLURM profile and the rules' cluster requests stay in step (no cluster needed).

Every rule that asks for a GPU carries its memory, time and partition requests itself (so that a
command-line `--set-resources` changes one value, not the profile's whole block), the profile's
defaults grow with the attempt, and a job's CPUs follow the rule's `threads` (so torch uses the
same thread count on a node as on a laptop).
"""

from __future__ import annotations

import os
import re

import yaml

from mosaicflow.plan.requests import RESUMABLE_TRAININGS
from tests.helpers import REPO

PROFILE = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
RULE_FILES = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
RULE_HEAD = re.compile(r"^(?:rule|checkpoint) (\w+):", re.MULTILINE)


def rule_blocks() -> dict[str, str]:
    """{rule name: its source text} of every rule and checkpoint of the workflow."""
    blocks = {}
    for path in RULE_FILES:
        text = path.read_text()
        heads = list(RULE_HEAD.finditer(text))
        for i, head in enumerate(heads):
            body = text[head.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)]
            # The block ends at the next line that starts in column 0 (a def, include, ...).
            end = re.search(r"^\S", body, re.MULTILINE)
            blocks[head.group(1)] = body[: end.start() if end else len(body)]
    return blocks


def evaluate(expression, attempt: int = 1, threads: int = 3, env: dict[str, str] | None = None):
    """Evaluate a profile resource the way Snakemake does (a Python expression)."""
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        return eval(str(expression), {"attempt": attempt, "threads": threads})
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_profile_polls_with_squeue_and_retries():
    assert PROFILE["executor"] == "slurm"
    assert PROFILE["slurm-status-command"] == "squeue"
    assert PROFILE["retries"] >= 1
    assert PROFILE["latency-wait"] >= 10
    assert PROFILE["jobs"] >= 10


def test_memory_and_runtime_grow_with_each_attempt():
    resources = PROFILE["default-resources"]
    for name in ("mem_mb", "runtime"):
        first, second = (evaluate(resources[name], attempt=a) for a in (1, 2))
        assert 0 < first < second, (name, resources)


def test_cpus_follow_the_rule_threads():
    assert evaluate(PROFILE["default-resources"]["cpus_per_task"], threads=5) == 5


def test_partition_and_account_come_from_the_environment():
    defaults = PROFILE["default-resources"]
    for resource, var in (
        ("slurm_partition", "MOSAICFLOW_SLURM_PARTITION"),
        ("slurm_account", "MOSAICFLOW_SLURM_ACCOUNT"),
    ):
        assert evaluate(defaults[resource], env={var: "gpu-long"}) == "gpu-long"
        saved = os.environ.pop(var, None)
        try:
            assert evaluate(defaults[resource]) == ""  # empty: the cluster's default
        finally:
            if saved is not None:
                os.environ[var] = saved


def test_the_requests_live_in_the_rules_not_in_a_profile_block():
    # a command-line --set-resources would replace a profile's set-resources block whole
    assert "set-resources" not in PROFILE


def test_every_gpu_rule_requests_memory_time_and_the_gpu_partition():
    gpu_rules = {n: b for n, b in rule_blocks().items() if re.search(r"\bgpu\s*=", b)}
    assert len(gpu_rules) >= 12, sorted(gpu_rules)
    lacking = [
        name
        for name, block in gpu_rules.items()
        if not all(
            re.search(rf"^\s+{key}=", block, re.M)
            for key in ("mem_mb", "runtime", "slurm_partition")
        )
    ]
    assert lacking == [], "GPU rules without cluster requests in their resources"
    trainings = {n for n, b in gpu_rules.items() if "runtime=stretch" in b}
    assert trainings == set(RESUMABLE_TRAININGS)  # the ones resubmitted on a cluster


def test_rule_parser_sees_the_workflow():
    # Guards the two tests above against a parser that silently finds nothing.
    blocks = rule_blocks()
    assert {"extract_frames", "render_world_video", "all"} <= set(blocks)
    assert "script:" in blocks["extract_frames"]


def _planned_resources(stdout: str, rule: str) -> dict[str, str]:
    block = re.search(rf"rule {rule}:.*?\n\s+resources: ([^\n]*)", stdout, re.S)
    assert block, rule
    return dict(item.split("=", 1) for item in block.group(1).split(", "))


def test_a_command_line_override_changes_the_one_value_it_names(tmp_path):
    """Planned with the profile (a dry run needs no cluster): the override takes, and every
    other rule keeps its own requests; model jobs go to the GPU partition."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(tmp_path), "--profile", str(REPO / "profiles" / "slurm"),
         "--set-resources", "extract_frames:mem_mb=8000",
         "--config", "device=cuda"],  # a dry run plans here: as on a GPU node
        capture_output=True, text=True, timeout=600, check=True,
        env={**os.environ, "MOSAICFLOW_SLURM_GPU_PARTITION": "a100"},
    )  # fmt: skip
    assert _planned_resources(proc.stdout, "extract_frames")["mem_mb"] == "8000"
    assert _planned_resources(proc.stdout, "extract_frames")["runtime"] == "30"
    training = _planned_resources(proc.stdout, "train_restoration_stage1")
    assert (training["mem_mb"], training["runtime"]) == ("32000", "1440")
    assert training["slurm_partition"] == "a100"
    assert _planned_resources(proc.stdout, "render_world_video")["slurm_partition"] == ""
