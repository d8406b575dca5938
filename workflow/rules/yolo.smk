# YOLO models (the table in mosaicflow.yolo.models): the pretrained bases they start from, one
# train_model and one evaluate_model rule over {model}.


rule convert_yolo_base:
    input:
        unpack(YOLO.yolo_base_input),
    output:
        detect=paths.YOLO_BASES["detect"],
        segment=paths.YOLO_BASES["segment"],
        card=paths.YOLO_BASE_CARD,
    log:
        paths.log("convert_yolo_base"),
    benchmark:
        paths.benchmark("convert_yolo_base")
    conda:
        ENV
    threads: 1
    params:
        source=YOLO.yolo_base_source,
        code=code_of("convert_yolo_base"),
    script:
        "../scripts/convert_yolo_base.py"


rule train_model:
    input:
        unpack(YOLO.train_model_input),
    output:
        weights=ensure(paths.model_files("{model}")["weights"], non_empty=True),
        onnx=ensure(paths.model_files("{model}")["onnx"], non_empty=True),
        train_json=paths.model_files("{model}")["train_json"],
    log:
        paths.log("train_model", "{model}"),
    benchmark:
        paths.benchmark("train_model", "{model}")
    conda:
        ENV
    threads: 2
    resources:
        gpu=model_gpu,
        mem_mb=growing(16000),
        runtime=stretch,
        slurm_partition=partition_of(model_gpu),
    params:
        train=YOLO.train_model_params,
        start=YOLO.train_model_start,
        device=config_section("device"),
        seed=config_section("seed"),
        work=YOLO.train_model_work,
        code=code_of("train_model"),
    script:
        "../scripts/train_model.py"


rule evaluate_model:
    input:
        unpack(YOLO.model_calibration),
        weights=rules.train_model.output.weights,
        train_json=rules.train_model.output.train_json,
        test_items=YOLO.model_test_items,
    output:
        model_json=paths.model_files("{model}")["model_json"],
        metrics=paths.model_files("{model}")["metrics"],
        pr_curve=report(
            paths.pr_curve("{model}"),
            caption="../report/pr_curve.rst",
            category=stages.STAGES["yolo"].report,
            labels={"model": "{model}"},
        ),
    log:
        paths.log("evaluate_model", "{model}"),
    benchmark:
        paths.benchmark("evaluate_model", "{model}")
    conda:
        ENV
    threads: 2
    resources:
        gpu=model_gpu,
        mem_mb=growing(8000),
        runtime=growing(60),
        slurm_partition=partition_of(model_gpu),
    params:
        test=YOLO.evaluate_model_params,
        device=config_section("device"),
        work=YOLO.evaluate_model_work,
        code=code_of("evaluate_model"),
    script:
        "../scripts/evaluate_model.py"


rule build_watermark_dataset:
    input:
        unpack(YOLO.watermark_set_input),
    output:
        directory(paths.WATERMARK_SET),
    log:
        paths.log("build_watermark_dataset"),
    benchmark:
        paths.benchmark("build_watermark_dataset")
    conda:
        ENV
    threads: 1
    params:
        watermark_set=config_section("watermark_set"),
        videos=YOLO.watermark_set_params,
        fonts=YOLO.watermark_set_fonts,
        seed=config_section("seed"),
        code=code_of("build_watermark_dataset"),
    script:
        "../scripts/build_watermark_dataset.py"
