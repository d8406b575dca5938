# The synthetic demo world (source.kind: demo): one job per video, then the label sets.


rule render_world_video:
    output:
        video="results/world/videos/{name}.mp4",
        truth="results/world/truth/{name}.mkv",
        truth_json="results/world/truth/{name}.json",
    log:
        "results/logs/render_world_video/{name}.log",
    benchmark:
        "results/benchmarks/render_world_video/{name}.tsv"
    conda:
        ENV
    threads: 1
    params:
        spec=get_world_spec,
        code=code_hash(
            "mosaicflow.world",
            "mosaicflow.formats.truth",
            "mosaicflow.video.decode",
            "mosaicflow.video.x264",
        ),
    script:
        "../scripts/render_world_video.py"


rule write_world_labelme:
    input:
        get_world_role_items,
    output:
        directory("results/world/labelme/{split}"),
    log:
        "results/logs/write_world_labelme/{split}.log",
    benchmark:
        "results/benchmarks/write_world_labelme/{split}.tsv"
    conda:
        ENV
    threads: 1
    params:
        world=get_world_set_params,
        seed=config_section("seed"),
        code=code_hash(
            "mosaicflow.world",
            "mosaicflow.formats.truth",
            "mosaicflow.video.decode",
            "mosaicflow.video.x264",
        ),
    script:
        "../scripts/write_world_labelme.py"


rule write_world_watermarks:
    input:
        get_world_labelled_items,
    output:
        directory("results/world/watermarks"),
    log:
        "results/logs/write_world_watermarks/all.log",
    benchmark:
        "results/benchmarks/write_world_watermarks/all.tsv"
    conda:
        ENV
    threads: 1
    params:
        world=get_world_set_params,
        seed=config_section("seed"),
        code=code_hash(
            "mosaicflow.world",
            "mosaicflow.formats.truth",
            "mosaicflow.video.decode",
            "mosaicflow.video.x264",
        ),
    script:
        "../scripts/write_world_watermarks.py"


rule draw_world_contact_sheet:
    input:
        get_world_sample_items,
    output:
        report(
            "results/world/contact_sheet.png",
            caption="../report/world_contact_sheet.rst",
            category="Demo world",
        ),
    log:
        "results/logs/draw_world_contact_sheet/all.log",
    benchmark:
        "results/benchmarks/draw_world_contact_sheet/all.tsv"
    conda:
        ENV
    threads: 1
    params:
        seed=config_section("seed"),
        code=code_hash(
            "mosaicflow.world",
            "mosaicflow.formats.truth",
            "mosaicflow.video.decode",
            "mosaicflow.video.x264",
        ),
    script:
        "../scripts/draw_world_contact_sheet.py"
