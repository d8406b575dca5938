# Clip triage and review: signals of every kept clip (per video), one ranking with its scores on
# the demo truth, and the export of the top clips for Label Studio. Verdicts come back with
# `mosaicflow review import` (results/review/verdicts.parquet, read by the clip index).


# score_clips holds a GPU slot where the contrast check runs the segmenter on `device`.
CONTRAST_CHECK_GPU = gpu_when(REVIEW.contrast_segmenter)


rule score_clips:
    input:
        unpack(REVIEW.score_clips_input),
    output:
        signals=paths.review_signals("{video}"),
    log:
        paths.log("score_clips", "{video}"),
    benchmark:
        paths.benchmark("score_clips", "{video}")
    conda:
        ENV
    threads: 1
    resources:
        gpu=CONTRAST_CHECK_GPU,
        mem_mb=growing(8000),
        runtime=growing(60),
        slurm_partition=partition_of(CONTRAST_CHECK_GPU),
    params:
        signals=config_fields("review", ClipSignalsConfig),
        nudenet_model=REVIEW.nudenet_model,
        regions=config_fields("regions", RegionsInferConfig),
        device=config_section("device"),
        work=paths.scratch_dir("review", "{video}"),
        code=code_of("score_clips"),
    script:
        "../scripts/score_clips.py"


rule rank_clips:
    input:
        unpack(REVIEW.review_verdicts),
        unpack(DUPLICATES.duplicate_groups),
        signals=[paths.review_signals(vid) for vid in VIDEOS],
    output:
        ranked=paths.REVIEW_RANKED,
        metrics=paths.REVIEW_METRICS,
    log:
        paths.log("rank_clips"),
    benchmark:
        paths.benchmark("rank_clips")
    conda:
        ENV
    threads: 1
    params:
        review=config_section("review"),
        seed=config_section("seed"),
        code=code_of("rank_clips"),
    script:
        "../scripts/rank_clips.py"


rule export_review:
    input:
        ranked=paths.REVIEW_RANKED,
        index=paths.RESTORATION_INDEX,
    output:
        export=directory(paths.REVIEW_EXPORT),
        sheet=report(
            paths.REVIEW_SHEET,
            caption="../report/review.rst",
            category=stages.STAGES["review"].report,
            labels={"split": "review"},
        ),
    log:
        paths.log("export_review"),
    benchmark:
        paths.benchmark("export_review")
    conda:
        ENV
    threads: 1
    params:
        review=config_section("review"),
        code=code_of("export_review"),
    script:
        "../scripts/export_review.py"


rule find_label_issues:
    input:
        unpack(LABEL_ISSUES.label_issue_inputs),
    output:
        table=paths.LABEL_ISSUES,
        export=directory(paths.LABEL_ISSUES_EXPORT),
        metrics=paths.LABEL_ISSUES_METRICS,
        sheet=report(
            paths.LABEL_ISSUES_SHEET,
            caption="../report/label_issues.rst",
            category=stages.STAGES["label_issues"].report,
            labels={"figure": "label issues"},
        ),
    log:
        paths.log("find_label_issues"),
    benchmark:
        paths.benchmark("find_label_issues")
    conda:
        ENV
    threads: 2
    resources:
        gpu=model_gpu,
        mem_mb=growing(8000),
        runtime=growing(60),
        slurm_partition=partition_of(model_gpu),
    params:
        label_issues=config_section("label_issues"),
        labels=config_section("regions/labels"),
        empty_flag=config_section("regions/empty_flag"),
        imgsz=config_section("regions/imgsz"),
        device=config_section("device"),
        work=paths.scratch_dir("review", "label_issues"),
        code=code_of("find_label_issues"),
    script:
        "../scripts/find_label_issues.py"
