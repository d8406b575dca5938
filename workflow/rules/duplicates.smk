# Duplicate videos across sources: pairs of videos sharing frames, groups, drops.


rule find_duplicates:
    input:
        indexes=[paths.frames_files(vid)["index"] for vid in VIDEOS],
        probes=[paths.frames_files(vid)["probe"] for vid in VIDEOS],
    output:
        duplicates=paths.DUPLICATES,
        pairs=paths.DUPLICATE_PAIRS,
    log:
        paths.log("find_duplicates"),
    benchmark:
        paths.benchmark("find_duplicates")
    # quadratic in the frames (minutes for 10^6 with faiss): a cluster job, not the login node's
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=growing(4000),
        runtime=growing(240),
    params:
        videos=list(VIDEOS),
        duplicates=config_section("duplicates"),
        code=code_of("find_duplicates"),
    script:
        "../scripts/find_duplicates.py"
