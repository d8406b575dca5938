# Decoding, near-duplicate dropping (mpdecimate semantics), scene cuts and sampling per video.


rule extract_frames:
    input:
        video=FRAMES.source_video,
    output:
        index=paths.frames_files("{video}")["index"],
        probe=paths.frames_files("{video}")["probe"],
    log:
        paths.log("extract_frames", "{video}"),
    benchmark:
        paths.benchmark("extract_frames", "{video}")
    conda:
        ENV
    # One thread per video job: the frame pipeline runs serially, so videos decoded side by side
    # use the cores better than threads inside one job (FFmpeg's own: frames.decode_threads).
    threads: 1
    resources:
        mem_mb=growing(3000),
        runtime=growing(30),
    params:
        frames=config_section("frames"),
        on_error=config_section("source/on_error"),
        code=code_of("extract_frames"),
    script:
        "../scripts/extract_frames.py"


rule gather_rejected:
    input:
        probes=FRAMES.frames_probes,
    output:
        paths.REJECTED,
    log:
        paths.log("gather_rejected"),
    benchmark:
        paths.benchmark("gather_rejected")
    # a small aggregate: on a cluster it runs in the Snakemake process, not as a job
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        code=code_of("gather_rejected"),
    script:
        "../scripts/gather_rejected.py"
