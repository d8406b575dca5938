# Evaluation and report material: the demo's held-out videos with mosaics restored end to end
# by the trained detector and restorer and scored against the originals; training curves of
# every model this run trains; every stage's metrics gathered into results/metrics.json.


rule restore_test_video:
    input:
        unpack(EVALUATION.restore_test_video_input),
    output:
        video=paths.evaluate_files("{name}")["video"],
        masks=paths.evaluate_files("{name}")["masks"],
        summary=paths.evaluate_files("{name}")["summary"],
    log:
        paths.log("restore_test_video", "{name}"),
    benchmark:
        paths.benchmark("restore_test_video", "{name}")
    wildcard_constraints:
        name=HELD_OUT_NAME,
    conda:
        ENV
    threads: 2
    resources:
        gpu=model_gpu,
        mem_mb=growing(8000),
        runtime=growing(120),
        slurm_partition=partition_of(model_gpu),
    params:
        evaluate=config_fields("evaluate", EvaluationRestoreConfig),
        detector=EVALUATION.restore_detector_params,
        device=config_section("device"),
        work=paths.scratch_dir("evaluate", "{name}"),
        code=code_of("restore_test_video"),
    script:
        "../scripts/restore_test_video.py"


rule evaluate_restoration:
    input:
        unpack(EVALUATION.evaluation_input),
    output:
        metrics=paths.EVALUATE_METRICS,
        table=report(
            paths.EVALUATE_TABLE,
            caption="../report/evaluation_table.rst",
            category=stages.STAGES["evaluation"].report,
            labels={"figure": "table"},
        ),
        side_by_side=report(
            paths.EVALUATE_SIDE_BY_SIDE,
            caption="../report/evaluation_side_by_side.rst",
            category=stages.STAGES["evaluation"].report,
            labels={"figure": "side-by-side video"},
        ),
        grid=report(
            paths.EVALUATE_GRID,
            caption="../report/evaluation_grid.rst",
            category=stages.STAGES["evaluation"].report,
            labels={"figure": "sample grid"},
        ),
    log:
        paths.log("evaluate_restoration"),
    benchmark:
        paths.benchmark("evaluate_restoration")
    conda:
        ENV
    threads: 1
    params:
        names=EVALUATION.evaluated_names,
        evaluate=config_section("evaluate"),
        sigmas=config_section("restoration/blur_sigmas"),
        code=code_of("evaluate_restoration"),
    script:
        "../scripts/evaluate_restoration.py"


rule plot_training_curves:
    input:
        record=EVALUATION.training_curve_input,
    output:
        report(
            paths.training_curve("{curve}"),
            caption="../report/training_curve.rst",
            category="Training curves",
            labels={"model": "{curve}"},
        ),
    log:
        paths.log("plot_training_curves", "{curve}"),
    benchmark:
        paths.benchmark("plot_training_curves", "{curve}")
    wildcard_constraints:
        curve=f"{models.MODEL_PATTERN}|{RESTORATION_CURVE}",
    # a small aggregate: on a cluster it runs in the Snakemake process, not as a job
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        work=EVALUATION.training_curve_work,
        code=code_of("plot_training_curves"),
    script:
        "../scripts/plot_training_curves.py"


rule gather_metrics:
    input:
        unpack(EVALUATION.gather_metrics_input),
    output:
        paths.METRICS,
    log:
        paths.log("gather_metrics"),
    benchmark:
        paths.benchmark("gather_metrics")
    # a small aggregate: on a cluster it runs in the Snakemake process, not as a job
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        code=code_of("gather_metrics"),
    script:
        "../scripts/gather_metrics.py"
