"""The stages of the workflow, one module each, and :data:`STAGES`, the table that ``rule all``,
the metrics gathering (``results/metrics.json``) and the report's categories read.

A stage module holds, for the rules of one stage (``workflow/rules/<stage>.smk``; label issues
share ``review.smk``):

- ``enabled(run)``: whether the stage runs for this run;
- ``outputs(run)``: what ``rule all`` builds of it;
- ``metrics(run)`` (optional): metrics name -> the file ``results/metrics.json`` gathers;
- the input and params functions of its rules, each ``(run, wildcards)``, which the rules
  bind with ``RUN.inputs(<module>)`` (:meth:`mosaicflow.plan.run.Run.inputs`).

Adding a stage: a module here, a row in :data:`STAGES`, its rules file and its script(s); see
CONTRIBUTING.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from mosaicflow.plan.run import Run
from mosaicflow.plan.stages import (
    balance,
    detection,
    duplicates,
    evaluation,
    frames,
    label_issues,
    quality,
    regions,
    restoration,
    review,
    shards,
    world,
    yolo,
)


def _no_metrics(run: Run) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Stage:
    """One stage of the workflow.

    Attributes:
        name: the stage's name (its module's).
        report: the report category of its figures (None: it adds none).
        enabled: ``(run) -> bool``.
        outputs: ``(run) -> list`` of what ``rule all`` builds of it (when enabled).
        metrics: ``(run) -> {name: file}`` that ``results/metrics.json`` gathers (when enabled).
    """

    name: str
    report: str | None
    enabled: Callable[[Run], bool]
    outputs: Callable[[Run], list[str]]
    metrics: Callable[[Run], dict[str, str]]

    @classmethod
    def of(cls, module: ModuleType, report: str | None = None) -> Stage:
        """The stage of a stage module."""
        return cls(
            name=module.__name__.rpartition(".")[2],
            report=report,
            enabled=module.enabled,
            outputs=module.outputs,
            metrics=getattr(module, "metrics", _no_metrics),
        )


#: The stages in the order their metrics are gathered.
STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage.of(world, "Demo world"),
        Stage.of(frames),
        Stage.of(regions),
        Stage.of(yolo, "PR curves"),
        Stage.of(detection),
        Stage.of(restoration, "Restoration dataset"),
        Stage.of(balance),
        Stage.of(shards),
        Stage.of(quality),
        Stage.of(review, "Restoration dataset"),
        Stage.of(label_issues, "Region models"),
        Stage.of(duplicates),
        Stage.of(evaluation, "Evaluation"),
    )
}


def running(run: Run) -> list[Stage]:
    """The stages that run for ``run``, in table order."""
    return [stage for stage in STAGES.values() if stage.enabled(run)]


def final_outputs(run: Run) -> list[str]:
    """Everything the default target builds."""
    return [path for stage in running(run) for path in stage.outputs(run)]


def metrics_files(run: Run) -> dict[str, str]:
    """Metrics name -> metrics file (or dataset folder with its provenance) that
    ``results/metrics.json`` gathers."""
    found: dict[str, str] = {}
    for stage in running(run):
        found.update(stage.metrics(run))
    return found
