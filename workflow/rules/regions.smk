# Region segmenter: labelme polygons -> an ultralytics YOLO-seg dataset (training and
# per-video inference join here in the region-models issue).


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
