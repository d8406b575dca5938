# Restoration: scene clips around the regions (a checkpoint per video), their index, contact
# sheets and test-video scores; then BasicVSR++ stage 1, convert, stage 2 and export.


# build_restoration_clips holds a GPU slot where it runs the watermark or censor detector.
CLIP_ANALYSERS_GPU = gpu_when(RESTORATION.clip_watermark_model, REGIONS.censor_model)


checkpoint build_restoration_clips:
    input:
        unpack(RESTORATION.clip_watermark_model),
        unpack(QUALITY.quality_model),
        unpack(REGIONS.censor_model),
        unpack(RESTORATION.clip_region_input),
        video=FRAMES.source_video,
        index=rules.extract_frames.output.index,
    output:
        manifest=paths.restoration_manifest("{video}"),
    log:
        paths.log("build_restoration_clips", "{video}"),
    benchmark:
        paths.benchmark("build_restoration_clips", "{video}")
    conda:
        ENV
    threads: 1
    resources:
        gpu=CLIP_ANALYSERS_GPU,
        mem_mb=growing(8000),
        runtime=growing(120),
        slurm_partition=partition_of(CLIP_ANALYSERS_GPU),
    params:
        dataset=config_fields("restoration_dataset", ClipCuttingConfig),
        mosaic=config_section("mosaic"),
        watermark=RESTORATION.clip_watermark_params,
        tags=config_section("tags"),
        tag_model=REGIONS.tag_model,
        censor=config_section("censor"),
        seed=config_section("seed"),
        device=config_section("device"),
        work=paths.scratch_dir("restoration_dataset", "{video}"),
        code=code_of("build_restoration_clips"),
    script:
        "../scripts/build_restoration_clips.py"


rule index_restoration_dataset:
    input:
        unpack(REVIEW.review_verdicts),
        unpack(DUPLICATES.duplicate_groups),
        manifests=RESTORATION.restoration_manifests,
    output:
        index=paths.RESTORATION_INDEX,
    log:
        paths.log("index_restoration_dataset"),
    benchmark:
        paths.benchmark("index_restoration_dataset")
    # a small aggregate: on a cluster it runs in the Snakemake process, not as a job
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        split=config_section("restoration_dataset/split"),
        roles=FRAMES.video_split_roles,
        seed=config_section("seed"),
        code=code_of("index_restoration_dataset"),
    script:
        "../scripts/index_restoration_dataset.py"


rule draw_restoration_sheets:
    input:
        index=rules.index_restoration_dataset.output.index,
    output:
        **{
            split: report(
                paths.restoration_sheet(split),
                caption="../report/restoration_sheet.rst",
                category=stages.STAGES["restoration"].report,
                labels={"split": split},
            )
            for split in ("train", "val", "test")
        },
    log:
        paths.log("draw_restoration_sheets"),
    benchmark:
        paths.benchmark("draw_restoration_sheets")
    conda:
        ENV
    threads: 1
    params:
        clips=config_section("restoration_dataset/sheet_clips"),
        code=code_of("draw_restoration_sheets"),
    script:
        "../scripts/draw_restoration_sheets.py"


rule evaluate_restoration_dataset:
    input:
        index=rules.index_restoration_dataset.output.index,
        truth_items=RESTORATION.region_test_items,
        regions=RESTORATION.test_region_tables,
        frames=RESTORATION.test_frame_indexes,
    output:
        metrics=paths.RESTORATION_DATASET_METRICS,
    log:
        paths.log("evaluate_restoration_dataset"),
    benchmark:
        paths.benchmark("evaluate_restoration_dataset")
    conda:
        ENV
    threads: 1
    params:
        ids=RESTORATION.test_videos,
        min_seconds=config_section("restoration_dataset/min_seconds"),
        max_gap=config_section("restoration_dataset/max_gap_frames"),
        work=paths.scratch_dir("restoration_dataset", "evaluate"),
        code=code_of("evaluate_restoration_dataset"),
    script:
        "../scripts/evaluate_restoration_dataset.py"


rule train_restoration_stage1:
    input:
        unpack(RESTORATION.restoration_stage1_input),
    output:
        weights=paths.restoration_files()["stage1"],
        metrics=paths.restoration_files()["stage1_metrics"],
    log:
        paths.log("train_restoration_stage1"),
    benchmark:
        paths.benchmark("train_restoration_stage1")
    conda:
        ENV
    threads: 2
    resources:
        gpu=model_gpu,
        mem_mb=growing(32000),
        runtime=stretch,
        slurm_partition=partition_of(model_gpu),
    params:
        stage="stage1",
        restoration=stages.restoration.job_params(RUN, "stage1"),
        mosaic=config_section("mosaic"),
        seed=config_section("seed"),
        device=config_section("device"),
        work=paths.work_root("restoration"),
        code=code_of("train_restoration_stage"),
    script:
        "../scripts/train_restoration_stage.py"


rule convert_restoration:
    input:
        stage1=rules.train_restoration_stage1.output.weights,
    output:
        init=paths.restoration_files()["stage2_init"],
    log:
        paths.log("convert_restoration"),
    benchmark:
        paths.benchmark("convert_restoration")
    # seconds of work (the stage-2 start from the stage-1 weights): on a cluster it runs in the
    # Snakemake process
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        restoration=stages.restoration.job_params(RUN, "convert"),
        seed=config_section("seed"),
        code=code_of("convert_restoration"),
    script:
        "../scripts/convert_restoration.py"


rule train_restoration_stage2:
    input:
        unpack(RESTORATION.restoration_stage_input),
        init=rules.convert_restoration.output.init,
    output:
        weights=paths.restoration_files()["stage2"],
        metrics=paths.restoration_files()["stage2_metrics"],
    log:
        paths.log("train_restoration_stage2"),
    benchmark:
        paths.benchmark("train_restoration_stage2")
    conda:
        ENV
    threads: 2
    resources:
        gpu=model_gpu,
        mem_mb=growing(32000),
        runtime=stretch,
        slurm_partition=partition_of(model_gpu),
    params:
        stage="stage2",
        restoration=stages.restoration.job_params(RUN, "stage2"),
        mosaic=config_section("mosaic"),
        seed=config_section("seed"),
        device=config_section("device"),
        work=paths.work_root("restoration"),
        code=code_of("train_restoration_stage"),
    script:
        "../scripts/train_restoration_stage.py"


rule export_restoration:
    input:
        stage2=rules.train_restoration_stage2.output.weights,
        stage1_metrics=rules.train_restoration_stage1.output.metrics,
        stage2_metrics=rules.train_restoration_stage2.output.metrics,
        index=rules.index_restoration_dataset.output.index,
    output:
        weights=ensure(paths.restoration_files()["weights"], non_empty=True),
        model_json=paths.restoration_files()["model_json"],
    log:
        paths.log("export_restoration"),
    benchmark:
        paths.benchmark("export_restoration")
    # seconds of work (the generator and its card): on a cluster it runs in the Snakemake process
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        restoration=stages.restoration.job_params(RUN, "export"),
        code=code_of("export_restoration"),
    script:
        "../scripts/export_restoration.py"
