# Stage 2: transport labels (diffusivity, permeability) per shard, gathered into transport.zarr.

STAGE_TARGETS["simulate"] = [TRANSPORT, f"{FIGURES}/transport.png"]


rule simulate_shard:
    input:
        structures=SHARD_STRUCTURES,
    output:
        transport=directory(SHARD_TRANSPORT),
    log:
        f"{LOGS}/simulate/{{shard}}.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    # the Krylov solve is single-threaded (shards run side by side); the lattice Boltzmann
    # solvers (permeability, diffusion method lbm) use the threads given here
    threads: lbm_threads()
    resources:
        gpu=JOBS.gpu("simulate_shard"),
        mem_mb=JOBS.mem_mb("simulate_shard"),
        runtime=JOBS.runtime("simulate_shard"),
    params:
        transport=STUDY_TRANSPORT,
        device=config["device"],
        solver=SOLVER_FINGERPRINT,
        stop=get_solver_stop,
    script:
        "../scripts/simulate_shard.py"


rule gather_transport:
    input:
        shards=expand(SHARD_TRANSPORT, shard=SOLVER_SHARDS),
    output:
        transport=directory(TRANSPORT),
    log:
        f"{LOGS}/gather_transport.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    resources:
        mem_mb=JOBS.mem_mb("gather_transport"),
        runtime=JOBS.runtime("gather_transport"),
    script:
        "../scripts/gather_transport.py"


rule plot_transport:
    input:
        transport=TRANSPORT,
    output:
        figure=report(
            f"{FIGURES}/transport.png",
            caption="../report/transport.rst",
            category="1 Structures",
        ),
    log:
        f"{LOGS}/plot_transport.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    resources:
        mem_mb=JOBS.mem_mb("plot_transport"),
        runtime=JOBS.runtime("plot_transport"),
    script:
        "../scripts/plot_transport.py"


# labels.solver_subset [A25]: the permeability CNN, trained on the solver's labels, labels the
# rest (the pVAE trains on the result)
if SOLVER_SUBSET:

    rule surrogate_labels:
        input:
            structures=STRUCTURES,
            transport=TRANSPORT,
            model=f"{MODELS_DIR}/permeability/model.pt",
        output:
            labels=directory(LABELS),
        log:
            f"{LOGS}/surrogate_labels.log",
        conda:
            f"{ENVS}/poredesign.yaml"
        threads: 2
        resources:
            gpu=JOBS.gpu("surrogate_labels"),
            mem_mb=JOBS.mem_mb("surrogate_labels"),
            runtime=JOBS.runtime("surrogate_labels"),
        params:
            batch_size=config["design"]["latent"]["batch_size"],
            device=config["device"],
        script:
            "../scripts/surrogate_labels.py"
