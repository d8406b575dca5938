"""The SLURM profile stays in step with the workflow (no cluster needed).

Every rule that asks for a GPU must have cluster requests in profiles/slurm/config.yaml, every
requested rule must exist, memory and time grow with the attempt, and a job's CPUs follow the
rule's `threads` (so torch uses the same thread count on a node as on a laptop).
"""

from __future__ import annotations

import os
import re

import yaml

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
    requests = [PROFILE["default-resources"], *PROFILE["set-resources"].values()]
    for resources in requests:
        for name in ("mem_mb", "runtime"):
            first, second = (evaluate(resources[name], attempt=a) for a in (1, 2))
            assert 0 < first < second, (name, resources)


def test_cpus_follow_the_rule_threads():
    requests = [PROFILE["default-resources"], *PROFILE["set-resources"].values()]
    for resources in requests:
        assert evaluate(resources["cpus_per_task"], threads=5) == 5


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


def test_requested_rules_exist():
    unknown = set(PROFILE["set-resources"]) - set(rule_blocks())
    assert unknown == set(), "profiles/slurm/config.yaml names rules the workflow lacks"


def test_every_gpu_rule_has_cluster_requests():
    gpu_rules = {n: b for n, b in rule_blocks().items() if re.search(r"\bgpu\s*=", b)}
    lacking = [
        name
        for name in gpu_rules
        if not {"mem_mb", "runtime", "cpus_per_task"}
        <= set(PROFILE["set-resources"].get(name) or {})
    ]
    assert lacking == [], "GPU rules without requests in profiles/slurm/config.yaml"


def test_rule_parser_sees_the_workflow():
    # Guards the two tests above against a parser that silently finds nothing.
    blocks = rule_blocks()
    assert {"extract_frames", "render_world_video", "all"} <= set(blocks)
    assert "script:" in blocks["extract_frames"]
