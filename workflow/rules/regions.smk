# The region segmenter's data and use: labelme polygons -> YOLO-seg dataset; per-video region
# inference, the inferred truth of a user's held-out videos, the region summary and
# pre-labelling. The YOLO models themselves train and are scored in yolo.smk.


rule build_region_dataset:
    input:
        unpack(REGIONS.region_labelme_dirs),
        unpack(REGIONS.region_labelme_files),
        unpack(REGIONS.label_overrides),
    output:
        directory(paths.REGION_DATASET),
    log:
        paths.log("build_region_dataset"),
    benchmark:
        paths.benchmark("build_region_dataset")
    conda:
        ENV
    threads: 1
    params:
        labels=config_section("regions/labels"),
        empty_flag=config_section("regions/empty_flag"),
        val_fraction=config_section("regions/val_fraction"),
        seed=config_section("seed"),
        code=code_of("build_region_dataset"),
    script:
        "../scripts/build_region_dataset.py"


rule infer_regions:
    input:
        video=FRAMES.source_video,
        index=rules.extract_frames.output.index,
        model=paths.model_files("region_seg")["weights"],
    output:
        regions=paths.region_files("{video}")["regions"],
        summary=paths.region_files("{video}")["summary"],
    log:
        paths.log("infer_regions", "{video}"),
    benchmark:
        paths.benchmark("infer_regions", "{video}")
    conda:
        ENV
    # on the CPU, one-thread jobs of several videos side by side use the cores better than one
    # job with more threads (its start-up and decoding run on one thread)
    threads: model_threads(on_cpu=1, on_gpu=2)
    resources:
        gpu=model_gpu,
        mem_mb=growing(8000),
        runtime=growing(120),
        slurm_partition=partition_of(model_gpu),
    params:
        regions=config_fields("regions", RegionsInferConfig),
        device=config_section("device"),
        work=paths.scratch_dir("regions", "{video}"),
        code=code_of("infer_regions"),
    script:
        "../scripts/infer_regions.py"


rule infer_test_truth:
    input:
        unpack(REGIONS.test_truth_input),
    output:
        truth=paths.test_truth_files("{video}")["truth"],
        truth_json=paths.test_truth_files("{video}")["truth_json"],
    log:
        paths.log("infer_test_truth", "{video}"),
    benchmark:
        paths.benchmark("infer_test_truth", "{video}")
    conda:
        ENV
    threads: 2
    resources:
        gpu=model_gpu,
        mem_mb=growing(8000),
        runtime=growing(120),
        slurm_partition=partition_of(model_gpu),
    params:
        regions=config_fields("regions", RegionsInferConfig),
        device=config_section("device"),
        source=FRAMES.source_name,
        work=paths.scratch_dir("test_truth", "{video}"),
        code=code_of("infer_test_truth"),
    script:
        "../scripts/infer_test_truth.py"


rule gather_regions:
    input:
        summaries=REGIONS.region_summaries,
        model_record=paths.model_files("region_seg")["train_json"],
    output:
        paths.REGION_SUMMARY,
    log:
        paths.log("gather_regions"),
    benchmark:
        paths.benchmark("gather_regions")
    # a small aggregate: on a cluster it runs in the Snakemake process, not as a job
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        conf=config_section("regions/conf"),
        required=stages.regions.feeds_datasets(RUN),
        code=code_of("gather_regions"),
    script:
        "../scripts/gather_regions.py"


rule prelabel_uncertain:
    input:
        unpack(REGIONS.prelabel_input),
        model=paths.model_files("region_seg")["weights"],
    output:
        directory(paths.PRELABEL_DIR),
    log:
        paths.log("prelabel_uncertain"),
    benchmark:
        paths.benchmark("prelabel_uncertain")
    conda:
        ENV
    threads: 2
    resources:
        gpu=model_gpu,
        mem_mb=growing(8000),
        runtime=growing(120),
        slurm_partition=partition_of(model_gpu),
    params:
        regions=config_fields("regions", RegionsPrelabelConfig),
        device=config_section("device"),
        ids=list(VIDEOS),
        work=paths.scratch_dir("regions", "prelabel"),
        code=code_of("prelabel_uncertain"),
    script:
        "../scripts/prelabel_uncertain.py"
