# Stage 1: structure generation, scattered into shards and gathered into one store.

STAGE_TARGETS["generate"] = [
    f"{RESULTS}/structures.zarr",
    f"{RESULTS}/figures/structures.png",
]


rule generate_shard:
    output:
        structures=directory(f"{RESULTS}/shards/structures-{{shard}}.zarr"),
    log:
        f"{LOGS}/generate/{{shard}}.log",
    params:
        generator=config["generator"],
        options=generator_options(),
        size=config["dataset"]["size"],
        seed=config["seed"],
        max_attempts=config["dataset"]["max_attempts"],
        index_range=lambda wildcards: shard_range(wildcards.shard),
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        f"{ENVS}/poredesign.yaml"
    script:
        "../scripts/generate_shard.py"


rule gather_structures:
    input:
        shards=expand(f"{RESULTS}/shards/structures-{{shard}}.zarr", shard=SHARDS),
    output:
        structures=directory(f"{RESULTS}/structures.zarr"),
    log:
        f"{LOGS}/gather_structures.log",
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        f"{ENVS}/poredesign.yaml"
    script:
        "../scripts/gather_structures.py"


rule plot_structures:
    input:
        structures=f"{RESULTS}/structures.zarr",
    output:
        figure=report(
            f"{RESULTS}/figures/structures.png",
            caption="../report/structures.rst",
            category="1 Structures",
        ),
    log:
        f"{LOGS}/plot_structures.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        f"{ENVS}/poredesign.yaml"
    script:
        "../scripts/plot_structures.py"
