# Stage 1: structure generation, scattered into shards and gathered into one store. For
# generator imported a shard copies crops of the scan dataset.scan (rule import_scan).

STAGE_TARGETS["generate"] = [STRUCTURES, f"{FIGURES}/structures.png"]


rule generate_shard:
    input:
        crops=get_dataset_crops,
    output:
        structures=directory(SHARD_STRUCTURES),
    log:
        f"{LOGS}/generate/{{shard}}.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 2
    resources:
        mem_mb=JOBS.mem_mb("generate_shard"),
        runtime=JOBS.runtime("generate_shard"),
    params:
        generator=config["generator"],
        options=generator_options(),
        size=config["dataset"]["size"],
        seed=config["seed"],
        max_attempts=config["dataset"]["max_attempts"],
        n_structures=config["dataset"]["n_structures"],
        index_range=get_shard_range,
    script:
        "../scripts/generate_shard.py"


rule gather_structures:
    input:
        shards=expand(SHARD_STRUCTURES, shard=SHARDS),
    output:
        structures=directory(STRUCTURES),
    log:
        f"{LOGS}/gather_structures.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    resources:
        mem_mb=JOBS.mem_mb("gather_structures"),
        runtime=JOBS.runtime("gather_structures"),
    script:
        "../scripts/gather_structures.py"


rule plot_structures:
    input:
        structures=STRUCTURES,
    output:
        figure=report(
            f"{FIGURES}/structures.png",
            caption="../report/structures.rst",
            category="1 Structures",
        ),
    log:
        f"{LOGS}/plot_structures.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    resources:
        mem_mb=JOBS.mem_mb("plot_structures"),
        runtime=JOBS.runtime("plot_structures"),
    script:
        "../scripts/plot_structures.py"
