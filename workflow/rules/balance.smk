# Sampling weights over a hierarchy of buckets (config section `balance`): the detection
# dataset's training images and the restoration dataset's training clips.


rule balance_detection:
    input:
        unpack(BALANCE.balance_rules),
        dataset=paths.DETECTION_DATASET,
    output:
        weights=paths.balance_files("detection")["weights"],
        buckets=paths.balance_files("detection")["buckets"],
    log:
        paths.log("balance_detection"),
    benchmark:
        paths.benchmark("balance_detection")
    # a table of the dataset's images: on a cluster it runs in the Snakemake process
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        balance=stages.balance.params(RUN, "detection_levels"),
        code=code_of("balance_detection"),
    script:
        "../scripts/balance_detection.py"


rule balance_clips:
    input:
        unpack(BALANCE.balance_rules),
        index=paths.RESTORATION_INDEX,
    output:
        weights=paths.balance_files("clips")["weights"],
        buckets=paths.balance_files("clips")["buckets"],
    log:
        paths.log("balance_clips"),
    benchmark:
        paths.benchmark("balance_clips")
    # a table of the clip index: on a cluster it runs in the Snakemake process
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        balance=stages.balance.params(RUN, "clip_levels"),
        code=code_of("balance_clips"),
    script:
        "../scripts/balance_clips.py"
