"""One run of the workflow as the rules see it: its config, its videos and the facts every stage
asks about, worked out once.

:class:`Run` is built by ``workflow/rules/common.smk`` from the validated config
(:meth:`Run.from_config`); the stage modules (:mod:`mosaicflow.plan.stages`) read it to say what
each stage builds and what each rule reads. :class:`RunFacts` holds the answers to the
questions that decide which stages run: is the source the demo world, which YOLO models the run
has or trains, is the restorer trained here, is the source-quality classifier on, are the clips
triaged. :meth:`Run.inputs` turns a stage module's functions of ``(run, wildcards)`` into the
input functions of its rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from mosaicflow.plan import paths
from mosaicflow.plan.sources import SourceVideo, source_videos
from mosaicflow.plan.yolo_models import has_model, model_dataset
from mosaicflow.yolo.models import MODELS

WORLD_NAME_PATTERN = r"world-(?:train|val|test|label|quality)-[0-9][0-9]+"
REUPLOAD_NAME_PATTERN = r"world-reupload-[0-9][0-9]+"
#: The restoration model's name among the training curves (the others are YOLO model names).
RESTORATION_CURVE = "restoration"


@dataclass(frozen=True)
class RunFacts:
    """What decides which stages run, for one config.

    Attributes:
        demo: the source is the demo world (it has ground truth).
        models: the YOLO models the run has, trained here or given as ``weights``.
        trained_models: the YOLO models trained here (those with a dataset).
        labelme_train: labelme training folders exist (the region dataset is built).
        restorer: the restorer the evaluation runs (``restoration.weights`` or this run's
            export; None without either).
        trains_restorer: the restorer is trained here.
        scores_quality: the source-quality classifier scores the clips.
        trains_quality: ... and is trained here (no ``quality.weights``).
        reviews_clips: the clips, cut around the segmenter's regions, are triaged.
        finds_label_issues: rule ``find_label_issues`` runs.
    """

    demo: bool
    models: frozenset[str]
    trained_models: tuple[str, ...]
    labelme_train: bool
    restorer: str | None
    trains_restorer: bool
    scores_quality: bool
    trains_quality: bool
    reviews_clips: bool
    finds_label_issues: bool

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> RunFacts:
        """The facts of ``config`` (validated, defaults filled)."""
        models = frozenset(name for name in MODELS if has_model(name, config))
        segmenter = "region_seg" in models
        labelme_train = bool(paths.region_labelme_dirs(config)["train"])
        given_restorer = config["restoration"]["weights"]
        restorer = str(given_restorer) if given_restorer else None
        if restorer is None and segmenter:
            restorer = paths.restoration_files()["weights"]
        scores_quality = bool(config["quality"]["enabled"]) and segmenter
        return cls(
            demo=config["source"]["kind"] == "demo",
            models=models,
            trained_models=tuple(name for name in MODELS if model_dataset(name, config)),
            labelme_train=labelme_train,
            restorer=restorer,
            trains_restorer=segmenter and not given_restorer,
            scores_quality=scores_quality,
            trains_quality=scores_quality and not config["quality"]["weights"],
            reviews_clips=segmenter and config["restoration_dataset"]["regions"] == "inferred",
            finds_label_issues=bool(
                config["label_issues"]["enabled"] and segmenter and labelme_train
            ),
        )


@dataclass(frozen=True)
class HeldOutVideo:
    """A video the models are scored on, with its truth: a demo-world video with its ground
    truth, or a user's video with the truth its region segmenter infers on every frame."""

    #: names the mosaicked copy and the restore run (world name, or the user video's id)
    name: str
    video: str
    truth: str
    truth_json: str


def world_specs(config: Mapping[str, Any]) -> list[Any]:
    """Video specs of the demo world, or none when the source is the user's videos."""
    if config["source"]["kind"] != "demo":
        return []
    from mosaicflow.config import build
    from mosaicflow.world import video_specs
    from mosaicflow.world.config import WorldConfig

    return list(video_specs(build(WorldConfig, config["world"]), config["seed"]))


def world_reuploads(config: Mapping[str, Any], specs: Sequence[Any]) -> list[Any]:
    """The demo world's re-uploads (``world.reuploads``), none for the user's videos."""
    if config["source"]["kind"] != "demo":
        return []
    from mosaicflow.config import build
    from mosaicflow.world.config import WorldConfig
    from mosaicflow.world.reuploads import reupload_specs

    return reupload_specs(build(WorldConfig, config["world"]), config["seed"], specs)


@dataclass(frozen=True)
class Run:
    """A run's config, world, videos and facts.

    Attributes:
        config: the validated config.
        specs: the demo world's video specs (none for the user's videos).
        reuploads: the demo world's re-uploads by name.
        videos: the source videos by id, in sheet or world order.
        facts: :class:`RunFacts` of the config.
    """

    config: Mapping[str, Any]
    specs: tuple[Any, ...]
    reuploads: Mapping[str, Any]
    videos: Mapping[str, SourceVideo]
    facts: RunFacts

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Run:
        """The run of ``config``: the world's specs, the source videos, the facts."""
        specs = world_specs(config)
        reuploads = {spec.name: spec for spec in world_reuploads(config, specs)}
        videos = source_videos(config["source"], specs, reuploads.values())
        return cls(
            config=config,
            specs=tuple(specs),
            reuploads=reuploads,
            videos={video.id: video for video in videos},
            facts=RunFacts.of(config),
        )

    @classmethod
    def of(
        cls,
        config: Mapping[str, Any],
        videos: Iterable[SourceVideo] = (),
        specs: Sequence[Any] | None = None,
    ) -> Run:
        """The run of ``config`` over the given videos (no sheet or folder is read); ``specs``
        default to the demo world's (none for user videos)."""
        return cls(
            config=config,
            specs=tuple(world_specs(config) if specs is None else specs),
            reuploads={},
            videos={video.id: video for video in videos},
            facts=RunFacts.of(config),
        )

    def world_spec(self, name: str) -> Any:
        """The spec of the world video called ``name``."""
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise KeyError(f"no demo-world video named {name}")

    def role_ids(self, roles: Iterable[str]) -> list[str]:
        """Ids of the source videos whose role is one of ``roles``, in order."""
        wanted = set(roles)
        return [vid for vid, video in self.videos.items() if video.role in wanted]

    def held_out(self, roles: Iterable[str]) -> list[HeldOutVideo]:
        """The videos of ``roles`` with their truth, in world or sheet order: the demo world's,
        or the user's when there is a region segmenter to infer their truth (rule
        ``infer_test_truth``)."""
        wanted = set(roles)
        if self.facts.demo:
            return [
                HeldOutVideo(spec.name, *paths.world_files(spec.name).values())
                for spec in self.specs
                if spec.role in wanted
            ]
        if "region_seg" not in self.facts.models:
            return []
        return [
            HeldOutVideo(video.id, video.path, *paths.test_truth_files(video.id).values())
            for video in self.videos.values()
            if video.role in wanted
        ]

    def held_out_video(self, name: str) -> HeldOutVideo:
        """The held-out video (train, validation or test) called ``name``."""
        for held in self.held_out(["train", "val", "test"]):
            if held.name == name:
                return held
        raise KeyError(f"no video with truth is called {name}")

    def evaluated(self) -> list[HeldOutVideo]:
        """The videos the evaluation restores and scores (roles in ``evaluate.roles``); none
        without a detector and a restorer."""
        if "detector" not in self.facts.models or self.facts.restorer is None:
            return []
        return self.held_out(self.config["evaluate"]["roles"])

    def bind(self, function: Callable[..., Any]) -> Callable[[Any], Any]:
        """``function(run, wildcards)`` as an input or params function of ``wildcards``."""

        def bound(wildcards: Any) -> Any:
            return function(self, wildcards)

        bound.__name__ = bound.__qualname__ = function.__name__
        bound.__doc__ = function.__doc__
        return bound

    def inputs(self, module: ModuleType) -> _BoundFunctions:
        """The public functions of a stage module, bound to this run (see :meth:`bind`)."""
        return _BoundFunctions(self, module)


class _BoundFunctions:
    """Attribute access to a stage module's functions, each bound to a run."""

    def __init__(self, run: Run, module: ModuleType) -> None:
        self._run, self._module = run, module

    def __getattr__(self, name: str) -> Callable[[Any], Any]:
        function = getattr(self._module, name)
        if not callable(function):
            raise AttributeError(f"{self._module.__name__}.{name} is not a function")
        return self._run.bind(function)
