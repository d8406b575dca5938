"""Every planned job's params are values Snakemake's params trigger compares.

Snakemake reruns a job whose params changed by comparing their ``repr``, but only for builtin
values (numbers, strings, lists, tuples, dicts, sets, None): any other object (a dataclass, a
Path) is skipped without a word (``snakemake.persistence``: ``UNREPRESENTABLE``), so a
changed key passed that way would never rerun its job.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Plans the workflow (dry run) with the given config files and writes, per rule, the type
#: names of its jobs' params.
PARAMS_DUMP = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings, DAGSettings, OutputSettings, ResourceSettings,
    )

    snakefile, workdir, out, *configs = sys.argv[1:]
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow_api = api.workflow(
            ResourceSettings(cores=2, resources={"gpu": 1}),
            ConfigSettings(configfiles=[Path(c) for c in configs]),
            snakefile=Path(snakefile),
            workdir=Path(workdir),
        )
        workflow_api.dag(DAGSettings()).execute_workflow(executor="dryrun")
        found = {}
        for job in workflow_api._workflow.dag.jobs:
            kinds = found.setdefault(job.rule.name, {})
            for name, value in job.params.items():
                kinds.setdefault(name, set()).add(type(value).__name__)
    types = {rule: {n: sorted(t) for n, t in p.items()} for rule, p in found.items()}
    import os
    jobs_env = {"PYTHONFAULTHANDLER": os.environ.get("PYTHONFAULTHANDLER")}
    Path(out).write_text(json.dumps({"params": types, "jobs_env": jobs_env}))
    """
)

#: The types Snakemake's params trigger compares (``persistence._serialize_param_builtin``).
COMPARED = {"int", "float", "bool", "str", "complex", "range", "list", "tuple", "dict", "set",
            "frozenset", "bytes", "bytearray", "NoneType"}  # fmt: skip


@pytest.mark.parametrize("configs", [[], ["config/test-tiny.yaml"]], ids=["demo", "tiny"])
def test_every_param_is_a_value_the_rerun_trigger_compares(tmp_path, configs):
    out = tmp_path / "params.json"
    proc = subprocess.run(
        [sys.executable, "-c", PARAMS_DUMP, str(REPO / "Snakefile"), str(tmp_path / "run"),
         str(out), *(str(REPO / c) for c in configs)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    dump = json.loads(out.read_text())
    # the jobs inherit the planning process's environment: a native crash prints their stacks
    assert dump["jobs_env"] == {"PYTHONFAULTHANDLER": "1"}
    params = dump["params"]
    assert {"train_model", "extract_frames", "all"} <= set(params)
    skipped = {
        f"{rule}.{name}": kinds
        for rule, names in params.items()
        for name, kinds in names.items()
        if set(kinds) - COMPARED
    }
    assert skipped == {}, f"params Snakemake would not compare: {skipped}"
