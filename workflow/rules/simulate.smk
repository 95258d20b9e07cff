# Stage 2: transport labels (diffusivity, permeability) per shard, gathered into transport.zarr.

STAGE_TARGETS["simulate"] = [
    f"{RESULTS}/transport.zarr",
    f"{RESULTS}/figures/transport.png",
]


rule simulate_shard:
    input:
        structures=f"{RESULTS}/shards/structures-{{shard}}.zarr",
    output:
        transport=directory(f"{RESULTS}/shards/transport-{{shard}}.zarr"),
    log:
        f"{LOGS}/simulate/{{shard}}.log",
    params:
        transport=config["transport"],
        device=config["device"],
    # the Krylov solve is single-threaded (shards run side by side); the lattice Boltzmann
    # solvers (permeability, diffusion method lbm) use the threads given here
    threads: lbm_threads()
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=8000,
        runtime=12 * 60,
    conda:
        f"{ENVS}/poredesign.yaml"
    script:
        "../scripts/simulate_shard.py"


rule gather_transport:
    input:
        shards=expand(f"{RESULTS}/shards/transport-{{shard}}.zarr", shard=SHARDS),
    output:
        transport=directory(f"{RESULTS}/transport.zarr"),
    log:
        f"{LOGS}/gather_transport.log",
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        f"{ENVS}/poredesign.yaml"
    script:
        "../scripts/gather_transport.py"


rule plot_transport:
    input:
        transport=f"{RESULTS}/transport.zarr",
    output:
        figure=report(
            f"{RESULTS}/figures/transport.png",
            caption="../report/transport.rst",
            category="1 Structures",
        ),
    log:
        f"{LOGS}/plot_transport.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        f"{ENVS}/poredesign.yaml"
    script:
        "../scripts/plot_transport.py"
