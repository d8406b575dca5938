# Tar shards in the WebDataset layout (config section `shards`): the detection dataset and the
# kept restoration clips, each with index.parquet for random access.


rule shard_detection_dataset:
    input:
        dataset=paths.DETECTION_DATASET,
    output:
        directory(paths.shard_dir("detection")),
    log:
        paths.log("shard_detection_dataset"),
    benchmark:
        paths.benchmark("shard_detection_dataset")
    conda:
        ENV
    threads: 1
    params:
        max_mb=config_section("shards/max_mb"),
        code=code_of("shard_detection_dataset"),
    script:
        "../scripts/shard_detection_dataset.py"


rule shard_restoration_dataset:
    input:
        index=paths.RESTORATION_INDEX,
    output:
        directory(paths.shard_dir("clips")),
    log:
        paths.log("shard_restoration_dataset"),
    benchmark:
        paths.benchmark("shard_restoration_dataset")
    conda:
        ENV
    threads: 1
    params:
        max_mb=config_section("shards/max_mb"),
        code=code_of("shard_restoration_dataset"),
    script:
        "../scripts/shard_restoration_dataset.py"
