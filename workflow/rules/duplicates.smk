# Duplicate videos across sources: perceptual-hash signatures, pairs, groups, drops.


rule sign_video:
    input:
        video=get_source_video,
        index=paths.frames_files("{video}")["index"],
        probe=paths.frames_files("{video}")["probe"],
    output:
        signature=paths.video_signature("{video}"),
    log:
        paths.log("sign_video", "{video}"),
    benchmark:
        paths.benchmark("sign_video", "{video}")
    conda:
        ENV
    threads: 1
    params:
        duplicates=config_section("duplicates"),
        code=code_of("sign_video"),
    script:
        "../scripts/sign_video.py"


rule find_duplicates:
    input:
        signatures=[paths.video_signature(vid) for vid in VIDEOS],
    output:
        duplicates=paths.DUPLICATES,
        pairs=paths.DUPLICATE_PAIRS,
    log:
        paths.log("find_duplicates"),
    benchmark:
        paths.benchmark("find_duplicates")
    # one numpy search over all signatures: on a cluster it runs in the Snakemake process
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        duplicates=config_section("duplicates"),
        code=code_of("find_duplicates"),
    script:
        "../scripts/find_duplicates.py"
