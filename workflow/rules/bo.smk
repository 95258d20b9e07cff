# Bayesian optimisation of Voronoi generation parameters [Z23] (SPEC 4.2): per target, Optuna's
# GP sampler searches parameters whose structure's latent mean is closest to the target's. The
# SQLite storage (design/bo/<target>/bo.db) is not a declared output, so a rerun resumes from it.


wildcard_constraints:
    bo_target="|".join(BO_TARGETS) or "none",


STAGE_TARGETS["bo"] = [
    *expand(f"{BO_DIR}/{{output}}", bo_target=BO_TARGETS, output=["bo.json", "convergence.png"]),
    f"{DESIGN}/bo/summary.csv",
]


rule bo_target:
    input:
        model=VAE_MODEL,
    output:
        result=f"{BO_DIR}/bo.json",
        figure=report(
            f"{BO_DIR}/convergence.png",
            caption="../report/bo_convergence.rst",
            category="4 Bayesian optimisation",
            subcategory="{bo_target}",
        ),
    log:
        f"{LOGS}/bo/{{bo_target}}.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 1  # targets run side by side on a CPU
    resources:
        gpu=JOBS.gpu("bo_target"),
        mem_mb=JOBS.mem_mb("bo_target"),
        runtime=JOBS.runtime("bo_target"),
    params:
        target=get_bo_target,
        bo=config["design"]["bo"],
        voronoi=config["voronoi"],
        size=config["dataset"]["size"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/bo_target.py"


rule bo_summary:
    input:
        results=expand(f"{BO_DIR}/bo.json", bo_target=BO_TARGETS),
    output:
        table=f"{DESIGN}/bo/summary.csv",
    log:
        f"{LOGS}/bo/summary.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    resources:
        mem_mb=JOBS.mem_mb("bo_summary"),
        runtime=JOBS.runtime("bo_summary"),
    params:
        targets=BO_TARGETS,
    script:
        "../scripts/bo_summary.py"
