# Transfer learning [Z23] (SPEC 3.5): a second Voronoi dataset labelled with the solver's
# tortuosity; the regressor on the frozen VAE encoder against the same network from scratch.

STAGE_TARGETS["transfer"] = [
    f"{TRANSFER_DESIGN}/transfer.json",
    f"{TRANSFER_DESIGN}/transfer.png",
]


rule generate_transfer:
    output:
        structures=directory(f"{TRANSFER_DIR}/structures.zarr"),
    log:
        f"{LOGS}/transfer/generate.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 2
    resources:
        mem_mb=JOBS.mem_mb("generate_transfer"),
        runtime=JOBS.runtime("generate_transfer"),
    params:
        voronoi=config["voronoi"],
        transfer_data=config["transfer_data"],
        size=config["dataset"]["size"],
        seed=config["seed"],
        max_attempts=config["dataset"]["max_attempts"],
    script:
        "../scripts/generate_transfer.py"


rule simulate_transfer:
    input:
        structures=f"{TRANSFER_DIR}/structures.zarr",
    output:
        transport=directory(f"{TRANSFER_DIR}/transport.zarr"),
    log:
        f"{LOGS}/transfer/simulate.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: lbm_threads()
    resources:
        gpu=JOBS.gpu("simulate_transfer"),
        mem_mb=JOBS.mem_mb("simulate_transfer"),
        runtime=JOBS.runtime("simulate_transfer"),
    params:
        transport=config["transport"],
        device=config["device"],
        solver=SOLVER_FINGERPRINT,
    script:
        "../scripts/simulate_shard.py"


rule transfer_learning:
    input:
        structures=f"{TRANSFER_DIR}/structures.zarr",
        transport=f"{TRANSFER_DIR}/transport.zarr",
        encoder=VAE_MODEL,
    output:
        result=f"{TRANSFER_DESIGN}/transfer.json",
        figure=report(
            f"{TRANSFER_DESIGN}/transfer.png",
            caption="../report/transfer.rst",
            category="5 Transfer learning",
        ),
    log:
        f"{LOGS}/transfer/learning.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 4
    resources:
        gpu=JOBS.gpu("transfer_learning"),
        mem_mb=JOBS.mem_mb("transfer_learning"),
        runtime=JOBS.runtime("transfer_learning"),
    params:
        section=LEARN["transfer"],
        common=LEARN_COMMON,
        split=config["transfer_data"]["split"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/transfer_learning.py"
