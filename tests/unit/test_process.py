"""A mosaicflow process ends without a last garbage collection, and still closes what it wrote."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import REPO


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip


def test_exit_freezes_the_objects_and_registers_once():
    proc = _run(
        """
        import atexit, gc
        from mosaicflow.process import skip_final_collection
        before = atexit._ncallbacks()
        skip_final_collection()
        skip_final_collection()
        print(atexit._ncallbacks() - before, gc.get_freeze_count())
        atexit._run_exitfuncs()
        print(gc.get_freeze_count() > 1000)
        """
    )
    assert proc.stdout.split() == ["1", "0", "True"]


def test_a_rule_script_still_flushes_its_log_and_files_at_exit(tmp_path):
    """A job set up by ``runtime.setup`` that leaves a log record, an unclosed buffered file and
    a temporary folder to the exit: the log and the file are complete, the folder is gone."""
    log, data, marker = tmp_path / "job.log", tmp_path / "data.txt", tmp_path / "tmpdir.txt"
    _run(
        f"""
        import tempfile, types
        from mosaicflow.plan.runtime import setup
        smk = types.SimpleNamespace(log=[{str(log)!r}], threads=1, rule="demo")
        logger = setup(smk)
        logger.info("last words")
        unclosed = open({str(data)!r}, "w")
        unclosed.write("x" * 100)
        folder = tempfile.TemporaryDirectory()
        open({str(marker)!r}, "w").write(folder.name)
        """
    )
    assert log.read_text().rstrip().endswith("last words")
    assert data.read_text() == "x" * 100
    assert not Path(marker.read_text()).exists()
