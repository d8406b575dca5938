"""A rule script's uncaught exception lands in the job's log file, not only on the terminal."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.helpers import REPO


def test_an_uncaught_error_is_written_to_the_log_and_the_job_fails(tmp_path):
    log = tmp_path / "logs" / "gather_regions" / "all.log"
    script = tmp_path / "rule_script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import types
            from mosaicflow.plan.runtime import setup

            def gather(path):
                raise ValueError(f"{{path}}: no region in any video")

            smk = types.SimpleNamespace(log=[{str(log)!r}], threads=1, rule="gather_regions")
            logger = setup(smk)
            logger.info("started")
            gather("results/regions/summary.tsv")
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert proc.returncode == 1
    text = log.read_text()
    assert "started" in text
    assert (
        "rule gather_regions failed: ValueError: results/regions/summary.tsv: no region in any "
        "video" in text
    )
    assert "Traceback (most recent call last)" in text and "in gather" in text
    # the terminal still shows it once: the record's line and its traceback's last line
    assert proc.stderr.count("results/regions/summary.tsv: no region in any video") == 2
    assert proc.stderr.count("Traceback (most recent call last)") == 1


def test_a_clean_exit_logs_no_failure(tmp_path):
    log = tmp_path / "job.log"
    code = (
        "import types\n"
        "from mosaicflow.plan.runtime import setup\n"
        f"setup(types.SimpleNamespace(log=[{str(log)!r}], threads=1, rule='demo')).info('done')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "done" in log.read_text() and "failed" not in log.read_text()
