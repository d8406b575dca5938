# Decoding, near-duplicate dropping (mpdecimate semantics), scene cuts and sampling per video.


rule extract_frames:
    input:
        video=get_source_video,
    output:
        index="results/frames/{video}/index.parquet",
        probe="results/frames/{video}/probe.json",
    params:
        frames=lookup(dpath="frames", within=config),
        on_error=lookup(dpath="source/on_error", within=config),
        code=code_hash("mosaicflow.video"),
    log:
        "results/logs/extract_frames/{video}.log",
    benchmark:
        "results/benchmarks/extract_frames/{video}.tsv"
    threads: 2
    conda:
        ENV
    script:
        "../scripts/extract_frames.py"


rule gather_rejected:
    input:
        probes=get_frames_probes,
    output:
        "results/rejected.tsv",
    params:
        code=code_hash("mosaicflow.video"),
    log:
        "results/logs/gather_rejected/all.log",
    benchmark:
        "results/benchmarks/gather_rejected/all.tsv"
    threads: 1
    conda:
        ENV
    script:
        "../scripts/gather_rejected.py"
