# Decoding, near-duplicate dropping (mpdecimate semantics), scene cuts and sampling per video.


rule extract_frames:
    input:
        video=get_source_video,
    output:
        index="results/frames/{video}/index.parquet",
        probe="results/frames/{video}/probe.json",
    log:
        "results/logs/extract_frames/{video}.log",
    benchmark:
        "results/benchmarks/extract_frames/{video}.tsv"
    conda:
        ENV
    threads: 2
    params:
        frames=config_section("frames"),
        on_error=config_section("source/on_error"),
        code=code_hash("mosaicflow.video"),
    script:
        "../scripts/extract_frames.py"


rule gather_rejected:
    input:
        probes=get_frames_probes,
    output:
        "results/rejected.tsv",
    log:
        "results/logs/gather_rejected/all.log",
    benchmark:
        "results/benchmarks/gather_rejected/all.tsv"
    conda:
        ENV
    threads: 1
    params:
        code=code_hash("mosaicflow.video"),
    script:
        "../scripts/gather_rejected.py"
