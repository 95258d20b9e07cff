# Stage 4-5: ABC inverse design per target, validation of the posterior mean by new structures
# (CNN and solver), the upscaling check, and the study summary.

ABC_TARGETS = list(config["design"]["abc"]["targets"])
DESIGN = f"{RESULTS}/design"

STAGE_TARGETS["design"] = expand(
    f"{DESIGN}/{{target}}/{{output}}",
    target=ABC_TARGETS,
    output=["validation.json", "upscaling.json"],
)
STAGE_TARGETS["report"] = [f"{RESULTS}/summary.md"]


wildcard_constraints:
    target="|".join(ABC_TARGETS) or "none",


rule abc_posterior:
    input:
        model=f"{CNN_DIR}/model.pt",
    output:
        posterior=directory(f"{DESIGN}/{{target}}/posterior.zarr"),
        summary=f"{DESIGN}/{{target}}/abc.json",
        database=f"{DESIGN}/{{target}}/abc.db",
        marginals=report(
            f"{DESIGN}/{{target}}/marginals.png",
            caption="../report/marginals.rst",
            category="3 Inverse design",
            subcategory="{target}",
        ),
    log:
        f"{LOGS}/design/abc-{{target}}.log",
    params:
        target=lambda wildcards: config["design"]["abc"]["targets"][wildcards.target],
        abc=config["design"]["abc"],
        prior=config["spinodoid"],
        size=config["dataset"]["size"],
        seed=config["seed"],
        device=config["device"],
    threads: 1  # targets run side by side on a CPU; the GPU does the work when present
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=16000,
        runtime=24 * 60,
    conda:
        f"{ENVS}/poredesign.yaml"
    script:
        "../scripts/abc_posterior.py"


rule validate_design:
    input:
        summary=f"{DESIGN}/{{target}}/abc.json",
        model=f"{CNN_DIR}/model.pt",
    output:
        validation=f"{DESIGN}/{{target}}/validation.json",
        figure=report(
            f"{DESIGN}/{{target}}/validation.png",
            caption="../report/validation.rst",
            category="3 Inverse design",
            subcategory="{target}",
        ),
    log:
        f"{LOGS}/design/validate-{{target}}.log",
    params:
        n_structures=config["design"]["validation"]["n_structures"],
        size=config["dataset"]["size"],
        seed=config["seed"],
        solver=config["transport"]["diffusion"],
        device=config["device"],
    threads: 1
    resources:
        mem_mb=8000,
        runtime=12 * 60,
    conda:
        f"{ENVS}/poredesign.yaml"
    script:
        "../scripts/validate_design.py"


rule upscale_design:
    input:
        summary=f"{DESIGN}/{{target}}/abc.json",
    output:
        upscaling=f"{DESIGN}/{{target}}/upscaling.json",
    log:
        f"{LOGS}/design/upscale-{{target}}.log",
    params:
        factor=config["design"]["validation"]["upscale_factor"],
        n_structures=config["design"]["validation"]["upscale_structures"],
        size=config["dataset"]["size"],
        seed=config["seed"],
        solver=config["transport"]["diffusion"],
    threads: 1
    resources:
        mem_mb=32000,
        runtime=24 * 60,
    conda:
        f"{ENVS}/poredesign.yaml"
    script:
        "../scripts/upscale_design.py"


rule summary_report:
    input:
        metrics=f"{CNN_DIR}/metrics.json",
        abc=expand(f"{DESIGN}/{{target}}/abc.json", target=ABC_TARGETS),
        validation=expand(f"{DESIGN}/{{target}}/validation.json", target=ABC_TARGETS),
        upscaling=expand(f"{DESIGN}/{{target}}/upscaling.json", target=ABC_TARGETS),
    output:
        summary=report(f"{RESULTS}/summary.md", caption="../report/summary.rst", category="0 Summary"),
    log:
        f"{LOGS}/summary_report.log",
    params:
        study=STUDY,
        targets=ABC_TARGETS,
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        f"{ENVS}/poredesign.yaml"
    script:
        "../scripts/summary_report.py"
