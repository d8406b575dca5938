# Mosaic detection dataset: per video, sampled frames with synthetic mosaics (images, mosaic
# masks, manifest); one aggregate YOLO-seg dataset split by video; the demo's test videos with
# mosaics on every frame for the detector's test (and the validation videos, on which the
# detector's threshold is chosen). The detector itself trains through
# train_model / evaluate_model (yolo.smk) as the `detector` entry of the model table.


# build_detection_samples holds a GPU slot where it runs the censor detector.
CENSOR_CHECK_GPU = gpu_when(REGIONS.censor_model)


rule build_detection_samples:
    input:
        unpack(DETECTION.detection_sample_input),
        unpack(QUALITY.quality_model),
        unpack(REGIONS.censor_model),
        video=FRAMES.source_video,
        index=rules.extract_frames.output.index,
    output:
        samples=directory(paths.detection_samples("{video}")["dir"]),
        manifest=paths.detection_samples("{video}")["manifest"],
    log:
        paths.log("build_detection_samples", "{video}"),
    benchmark:
        paths.benchmark("build_detection_samples", "{video}")
    conda:
        ENV
    threads: 1
    resources:
        gpu=CENSOR_CHECK_GPU,
        mem_mb=growing(8000),
        runtime=growing(60),
        slurm_partition=partition_of(CENSOR_CHECK_GPU),
    params:
        dataset=config_fields("detection_dataset", DetectionSamplingConfig),
        mosaic=config_section("mosaic"),
        tags=config_section("tags"),
        tag_model=REGIONS.tag_model,
        censor=config_section("censor"),
        seed=config_section("seed"),
        device=config_section("device"),
        work=paths.scratch_dir("detection_samples", "{video}"),
        code=code_of("build_detection_samples"),
    script:
        "../scripts/build_detection_samples.py"


rule build_detection_dataset:
    input:
        unpack(DETECTION.detection_samples),
        unpack(DUPLICATES.duplicate_groups),
    output:
        directory(paths.DETECTION_DATASET),
    log:
        paths.log("build_detection_dataset"),
    benchmark:
        paths.benchmark("build_detection_dataset")
    conda:
        ENV
    threads: 1
    params:
        dataset=config_section("detection_dataset"),
        roles=DETECTION.detection_roles,
        seed=config_section("seed"),
        work=paths.scratch_dir("detection_dataset", "check"),
        code=code_of("build_detection_dataset"),
    script:
        "../scripts/build_detection_dataset.py"


rule build_detection_testset:
    input:
        unpack(DETECTION.detection_testset_input),
    output:
        video=paths.detection_testset_files("{name}")["video"],
        truth=paths.detection_testset_files("{name}")["truth"],
        truth_json=paths.detection_testset_files("{name}")["truth_json"],
    log:
        paths.log("build_detection_testset", "{name}"),
    benchmark:
        paths.benchmark("build_detection_testset", "{name}")
    wildcard_constraints:
        name=HELD_OUT_NAME,
    conda:
        ENV
    threads: 1
    params:
        mosaic=config_section("mosaic"),
        test_seed=config_section("detection_dataset/test_seed"),
        min_change=config_section("detection_dataset/min_mosaic_change"),
        faces=config_section("detection_dataset/faces"),
        seed=config_section("seed"),
        code=code_of("build_detection_testset"),
    script:
        "../scripts/build_detection_testset.py"
