# mosaicflow: `make demo` runs the workflow on the synthetic demo world, `make test` runs the suite.
# Both create the virtual environment (.venv) when it is missing.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= $(shell nproc 2>/dev/null || echo 2)
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?= --durations=30

.PHONY: help venv inspect-env restorer-base quality-base demo test test-deps lint pytest bench envs docs clean

help:
	@echo "make demo       run the workflow on the synthetic demo world (config/config.yaml)"
	@echo "make test       run lint + the whole test suite"
	@echo "make test-deps  install what the full suite uses: system packages (Debian, as root), inspect-env"
	@echo "make inspect-env  the FiftyOne environment of mosaicflow inspect (.venv-inspect)"
	@echo "make bench      run the benchmarks (results/bench.json)"
	@echo "make restorer-base  retrain the shipped restorer base (resources/restorer-base/; a GPU)"
	@echo "make quality-base   retrain the shipped source-quality base (resources/quality-base/)"
	@echo "make envs docs  regenerate envs/mosaicflow.yaml and config/README.md"

# The environment: pinned by constraints.txt; ultralytics' GUI opencv-python is swapped for the
# headless build (no libgl1 needed).
$(BIN)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert (3, 11, 4) <= sys.version_info[:3] < (3, 13), "mosaicflow needs Python 3.11.4 to 3.12 (PYTHON=/path/to/python3.11)"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	$(BIN)/python -m pip uninstall --quiet -y opencv-python
	$(BIN)/python -m pip install --quiet --force-reinstall --no-deps -c constraints.txt opencv-python-headless
	@touch $@

venv: $(BIN)/.installed

# The FiftyOne environment of `mosaicflow inspect`: its own OpenCV and MongoDB, apart from .venv;
# mosaicflow itself is installed without dependencies (the inspect side imports no torch).
INSPECT_VENV ?= .venv-inspect
$(INSPECT_VENV)/.installed: envs/inspect-requirements.txt envs/inspect-constraints.txt pyproject.toml
	@test -x $(INSPECT_VENV)/bin/python || $(PYTHON) -m venv $(INSPECT_VENV)
	$(INSPECT_VENV)/bin/python -m pip install --upgrade --quiet pip
	$(INSPECT_VENV)/bin/python -m pip install --quiet -c envs/inspect-constraints.txt \
		-r envs/inspect-requirements.txt
	$(INSPECT_VENV)/bin/python -m pip install --quiet --no-deps -e .
	@touch $@

inspect-env: $(INSPECT_VENV)/.installed

# The run, then its report (results/report.html: sheets, curves, evaluation, with captions).
demo: venv
	$(BIN)/snakemake --cores $(CORES) --resources gpu=1 $(SNAKEMAKE_ARGS)
	$(BIN)/snakemake --cores 1 --report results/report.html $(SNAKEMAKE_ARGS)

# The restorer base the demo's stage 1 starts from: the workflow on config/pretrain.yaml (a world
# of its own) in .pretrain-work/, then the export and its card copied into resources/. Its stage 1
# is sized for a GPU (about 9 minutes on one H200, hours on a laptop CPU); TRAINED_ON describes
# the machine on the card.
TRAINED_ON ?=
restorer-base: venv
	$(BIN)/snakemake results/models/restoration/generator.pth --directory .pretrain-work \
		--cores $(CORES) --resources gpu=1 --configfile config/pretrain.yaml $(SNAKEMAKE_ARGS)
	$(BIN)/python -m mosaicflow.restore.base .pretrain-work resources/restorer-base \
		--trained-on "$(TRAINED_ON)"

# The source-quality base the demo's classifier starts from: the same world, the classifier alone
# (about 8 minutes on a 2-core CPU), then its weights and card copied into resources/.
quality-base: venv
	$(BIN)/snakemake results/models/quality/quality.pt --directory .pretrain-work \
		--cores $(CORES) --resources gpu=1 --configfile config/pretrain.yaml $(SNAKEMAKE_ARGS)
	$(BIN)/python -m mosaicflow.quality.base .pretrain-work resources/quality-base \
		--trained-on "$(TRAINED_ON)"

test-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends \
			ffmpeg slurmctld slurmd slurm-client munge chromium >/dev/null && \
		echo "test-deps: installed ffmpeg, slurm, munge, chromium"; \
	else \
		echo "test-deps: not root or no apt-get: ffmpeg/SLURM/App screenshot tests will be SKIPPED"; \
	fi
	@$(MAKE) --no-print-directory inspect-env || \
		echo "test-deps: the FiftyOne environment could not be built: its tests will be SKIPPED"

lint: venv
	$(BIN)/ruff check src tests bench workflow/scripts
	$(BIN)/ruff format --check src tests bench workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1 >/dev/null
	$(BIN)/python -m mosaicflow.devtools check

# Three pytest sessions, all of which run; any failing fails the target:
# - the unit tests on every core (small tests, most of them one-threaded);
# - the demo run alone: its jobs train with two threads each and need the cores to themselves;
# - the workflow and cluster tests, reading the finished demo (MOSAICFLOW_DEMO_REUSE), on one
#   worker more than there are cores: their Snakemake runs wait on SLURM polls and job starts,
#   and the extra worker fills the core that leaves idle; one file per worker at a time
#   (--dist loadfile keeps the SLURM cluster's tests together), in file order so the long SLURM
#   test starts first; passive OpenMP waits so that the workers' training jobs share the cores
#   without spinning.
DEMO_TEST := tests/workflow/test_world_reruns.py::test_demo_run_is_complete
pytest: venv
	@start=$$(date +%s); $(BIN)/python -m pytest -n $(CORES) tests/unit $(PYTEST_ARGS); unit=$$?; \
	echo "[phase] unit tests: $$(( $$(date +%s) - start )) s (exit $$unit)"; \
	start=$$(date +%s); $(BIN)/python -m pytest $(DEMO_TEST) $(PYTEST_ARGS); demo=$$?; \
	echo "[phase] demo run: $$(( $$(date +%s) - start )) s (exit $$demo)"; \
	start=$$(date +%s); MOSAICFLOW_DEMO_REUSE=1 OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest \
		-n $$(( $(CORES) + 1 )) --dist loadfile --no-loadscope-reorder tests --ignore=tests/unit \
		$(PYTEST_ARGS); rest=$$?; \
	echo "[phase] workflow and cluster tests: $$(( $$(date +%s) - start )) s (exit $$rest)"; \
	for rc in $$unit $$demo $$rest; do if [ $$rc -ne 0 ]; then exit $$rc; fi; done

# Lint and pytest both run; either failing fails `make test`.
test: venv
	@start=$$(date +%s); $(MAKE) --no-print-directory lint; lint_rc=$$?; \
	echo "[phase] lint: $$(( $$(date +%s) - start )) s (exit $$lint_rc)"; \
	start=$$(date +%s); $(MAKE) --no-print-directory pytest; rc=$$?; \
	echo "[phase] pytest: $$(( $$(date +%s) - start )) s (exit $$rc)"; \
	if [ $$lint_rc -ne 0 ]; then echo "make test: lint failed"; exit $$lint_rc; fi; exit $$rc

# bench/restore_curves.py is an experiment on a finished run's clips, run by hand (its docstring).
bench: venv
	for b in bench/*.py; do \
		case $$b in bench/benchlib.py|bench/restore_curves.py) continue;; esac; \
		$(BIN)/python $$b || exit 1; \
	done

envs docs: venv
	$(BIN)/python -m mosaicflow.devtools write

clean:
	rm -rf results .snakemake
