"""The run's plan, the glue between the config and the Snakemake rules: where each artifact lies
(:mod:`~.paths`), which videos a run reads (:mod:`~.sources`), what ``rule all`` builds and what
each aggregate reads (:mod:`~.targets`, :mod:`~.yolo_models`), code as an input
(:mod:`~.codehash`), GPU claims (:mod:`~.gpu`) and the rule scripts' set-up (:mod:`~.runtime`).
Kept in the package so that pytest can import it; the Snakemake files only wire it.
"""
