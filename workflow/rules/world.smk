# The synthetic demo world (source.kind: demo): one job per video and per re-upload, then the
# label sets.


rule render_world_video:
    output:
        video=paths.world_files("{name}")["video"],
        truth=paths.world_files("{name}")["truth"],
        truth_json=paths.world_files("{name}")["truth_json"],
    log:
        paths.log("render_world_video", "{name}"),
    benchmark:
        paths.benchmark("render_world_video", "{name}")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=growing(2000),
        runtime=growing(20),
    params:
        spec=WORLD.world_spec,
        code=code_of("render_world_video"),
    script:
        "../scripts/render_world_video.py"


rule render_world_reupload:
    input:
        unpack(WORLD.reupload_source),
    output:
        video=paths.world_files("{reupload}")["video"],
        truth=paths.world_files("{reupload}")["truth"],
        truth_json=paths.world_files("{reupload}")["truth_json"],
    log:
        paths.log("render_world_reupload", "{reupload}"),
    benchmark:
        paths.benchmark("render_world_reupload", "{reupload}")
    conda:
        ENV
    threads: 1
    params:
        spec=WORLD.reupload_spec,
        code=code_of("render_world_reupload"),
    script:
        "../scripts/render_world_reupload.py"


rule write_world_labelme:
    input:
        WORLD.world_role_items,
    output:
        labelme=directory(paths.world_labelme_dir("{split}")),
        errors=paths.world_label_errors("{split}"),
    log:
        paths.log("write_world_labelme", "{split}"),
    benchmark:
        paths.benchmark("write_world_labelme", "{split}")
    conda:
        ENV
    threads: 1
    params:
        world=WORLD.world_set_params,
        label_noise=WORLD.label_noise_params,
        seed=config_section("seed"),
        code=code_of("write_world_labelme"),
    script:
        "../scripts/write_world_labelme.py"


rule write_world_watermarks:
    input:
        WORLD.world_labelled_items,
    output:
        directory(paths.WORLD_WATERMARKS),
    log:
        paths.log("write_world_watermarks"),
    benchmark:
        paths.benchmark("write_world_watermarks")
    conda:
        ENV
    threads: 1
    params:
        world=WORLD.world_set_params,
        seed=config_section("seed"),
        code=code_of("write_world_watermarks"),
    script:
        "../scripts/write_world_watermarks.py"


rule draw_world_contact_sheet:
    input:
        WORLD.world_sample_items,
    output:
        report(
            paths.WORLD_CONTACT_SHEET,
            caption="../report/world_contact_sheet.rst",
            category=stages.STAGES["world"].report,
        ),
    log:
        paths.log("draw_world_contact_sheet"),
    benchmark:
        paths.benchmark("draw_world_contact_sheet")
    conda:
        ENV
    threads: 1
    params:
        seed=config_section("seed"),
        code=code_of("draw_world_contact_sheet"),
    script:
        "../scripts/draw_world_contact_sheet.py"
