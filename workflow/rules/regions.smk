# Region models: labelme polygons -> YOLO-seg dataset -> region segmenter, and the watermark
# detector; both scored on the demo world's truth; per-video region inference and pre-labelling.


rule build_region_dataset:
    input:
        unpack(get_region_labelme_dirs),
    output:
        directory("results/regions/dataset"),
    log:
        "results/logs/build_region_dataset/all.log",
    benchmark:
        "results/benchmarks/build_region_dataset/all.tsv"
    conda:
        ENV
    threads: 1
    params:
        labels=config_section("regions/labels"),
        empty_flag=config_section("regions/empty_flag"),
        val_fraction=config_section("regions/val_fraction"),
        seed=config_section("seed"),
        code=code_hash("mosaicflow.formats"),
    script:
        "../scripts/build_region_dataset.py"


rule train_region_seg:
    input:
        unpack(get_train_region_seg_input),
    output:
        weights=ensure(targets.model_files("region_seg")["weights"], non_empty=True),
        onnx=ensure(targets.model_files("region_seg")["onnx"], non_empty=True),
        train_json=targets.model_files("region_seg")["train_json"],
    log:
        "results/logs/train_region_seg/all.log",
    benchmark:
        "results/benchmarks/train_region_seg/all.tsv"
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        section=config_section("regions"),
        device=config_section("device"),
        seed=config_section("seed"),
        stage="region_seg",
        work="results/region_seg/_work",
        code=code_hash("mosaicflow.regions"),
    script:
        "../scripts/train_region_model.py"


rule train_watermark:
    input:
        unpack(get_train_watermark_input),
    output:
        weights=ensure(targets.model_files("watermark")["weights"], non_empty=True),
        onnx=ensure(targets.model_files("watermark")["onnx"], non_empty=True),
        train_json=targets.model_files("watermark")["train_json"],
    log:
        "results/logs/train_watermark/all.log",
    benchmark:
        "results/benchmarks/train_watermark/all.tsv"
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        section=config_section("watermark"),
        device=config_section("device"),
        seed=config_section("seed"),
        stage="watermark",
        work="results/watermark/_work",
        code=code_hash("mosaicflow.regions"),
    script:
        "../scripts/train_region_model.py"


rule evaluate_region_seg:
    input:
        weights=rules.train_region_seg.output.weights,
        train_json=rules.train_region_seg.output.train_json,
        test_items=get_region_test_items,
    output:
        model_json=targets.model_files("region_seg")["model_json"],
        metrics=targets.model_files("region_seg")["metrics"],
    log:
        "results/logs/evaluate_region_seg/all.log",
    benchmark:
        "results/benchmarks/evaluate_region_seg/all.tsv"
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        section=config_section("regions"),
        device=config_section("device"),
        stage="region_seg",
        work="results/region_seg/_work/evaluate",
        code=code_hash(
            "mosaicflow.regions", "mosaicflow.video", "mosaicflow.formats.truth"
        ),
    script:
        "../scripts/evaluate_region_model.py"


rule evaluate_watermark:
    input:
        weights=rules.train_watermark.output.weights,
        train_json=rules.train_watermark.output.train_json,
        test_items=get_region_test_items,
    output:
        model_json=targets.model_files("watermark")["model_json"],
        metrics=targets.model_files("watermark")["metrics"],
    log:
        "results/logs/evaluate_watermark/all.log",
    benchmark:
        "results/benchmarks/evaluate_watermark/all.tsv"
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        section=config_section("watermark"),
        device=config_section("device"),
        stage="watermark",
        work="results/watermark/_work/evaluate",
        code=code_hash(
            "mosaicflow.regions", "mosaicflow.video", "mosaicflow.formats.truth"
        ),
    script:
        "../scripts/evaluate_region_model.py"


rule infer_regions:
    input:
        video=get_source_video,
        index=rules.extract_frames.output.index,
        model=rules.train_region_seg.output.weights,
    output:
        regions="results/regions/{video}/regions.parquet",
        summary="results/regions/{video}/summary.json",
    log:
        "results/logs/infer_regions/{video}.log",
    benchmark:
        "results/benchmarks/infer_regions/{video}.tsv"
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        regions=config_section("regions"),
        device=config_section("device"),
        work="results/regions/_work/{video}",
        code=code_hash("mosaicflow.regions", "mosaicflow.video"),
    script:
        "../scripts/infer_regions.py"


rule gather_regions:
    input:
        summaries=get_region_summaries,
    output:
        "results/regions/summary.tsv",
    log:
        "results/logs/gather_regions/all.log",
    benchmark:
        "results/benchmarks/gather_regions/all.tsv"
    conda:
        ENV
    threads: 1
    params:
        code=code_hash("mosaicflow.regions"),
    script:
        "../scripts/gather_regions.py"


rule prelabel_uncertain:
    input:
        unpack(get_prelabel_input),
        model=rules.train_region_seg.output.weights,
    output:
        directory("results/prelabel"),
    log:
        "results/logs/prelabel_uncertain/all.log",
    benchmark:
        "results/benchmarks/prelabel_uncertain/all.tsv"
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        regions=config_section("regions"),
        device=config_section("device"),
        ids=list(VIDEOS),
        work="results/regions/_work/prelabel",
        code=code_hash("mosaicflow.regions", "mosaicflow.video", "mosaicflow.formats"),
    script:
        "../scripts/prelabel_uncertain.py"
