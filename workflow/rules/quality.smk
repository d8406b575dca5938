# Source quality: a small classifier of degraded sources, trained on the training videos' kept
# frames; the clip jobs score their analysed frames with it (restoration.smk); on the demo world
# its clip scores, and the scenes of the world's quality videos, are checked against the
# degraded scenes of the truth.


rule train_quality_classifier:
    input:
        unpack(QUALITY.quality_training_input),
    output:
        weights=paths.QUALITY_MODEL,
        card=paths.QUALITY_CARD,
    log:
        paths.log("train_quality_classifier"),
    benchmark:
        paths.benchmark("train_quality_classifier")
    conda:
        ENV
    threads: 2
    params:
        train=QUALITY.quality_train_ids,
        val=QUALITY.quality_val_ids,
        quality=QUALITY.quality_params,
        seed=config_section("seed"),
        code=code_of("train_quality_classifier"),
    script:
        "../scripts/train_quality_classifier.py"


rule score_quality_scenes:
    input:
        unpack(QUALITY.quality_scenes_input),
    output:
        scenes=paths.QUALITY_SCENES,
    log:
        paths.log("score_quality_scenes"),
    benchmark:
        paths.benchmark("score_quality_scenes")
    conda:
        ENV
    threads: 1
    params:
        code=code_of("score_quality_scenes"),
    script:
        "../scripts/score_quality_scenes.py"


rule evaluate_source_quality:
    input:
        unpack(QUALITY.source_quality_eval_input),
    output:
        metrics=paths.QUALITY_METRICS,
    log:
        paths.log("evaluate_source_quality"),
    benchmark:
        paths.benchmark("evaluate_source_quality")
    # reads the clip manifests: on a cluster it runs in the Snakemake process
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        videos=QUALITY.source_quality_eval_ids,
        roles=FRAMES.video_split_roles,
        code=code_of("evaluate_source_quality"),
    script:
        "../scripts/evaluate_source_quality.py"
