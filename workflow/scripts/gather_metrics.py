"""Every stage's metrics in one file, results/metrics.json (rule gather_metrics)."""

from pathlib import Path

from mosaicflow.evaluation.gather import gather_metrics, run_hashes
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
stages = {name: Path(path) for name, path in snakemake.input.items()}
config_hash, code_hash = run_hashes(snakemake.config)
gather_metrics(stages, Path(snakemake.output[0]), config_hash=config_hash, code_hash=code_hash)
log.info("gathered %s (config %s, code %s)", sorted(stages), config_hash, code_hash)
