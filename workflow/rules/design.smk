# Stage 4-5: ABC inverse design per target, validation of the posterior mean by new structures
# (CNN and solver), the upscaling check, and the solver-in-the-loop refinement.

if design_method() == "abc":
    STAGE_TARGETS["design"] = expand(
        [VALIDATION, UPSCALING] + ([REFINE] if REFINE_ON else []), target=ABC_TARGETS
    )


wildcard_constraints:
    target="|".join(ABC_TARGETS) or "none",


rule abc_posterior:
    input:
        model=CNN_MODEL,
    output:
        posterior=directory(f"{TARGET_DIR}/posterior.zarr"),
        summary=ABC_SUMMARY,
        database=f"{TARGET_DIR}/abc.db",
        marginals=report(
            f"{TARGET_DIR}/marginals.png",
            caption="../report/marginals.rst",
            category="3 Inverse design",
            subcategory="{target}",
        ),
    log:
        f"{LOGS}/design/abc-{{target}}.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 1  # targets run side by side on a CPU; the GPU does the work when present
    resources:
        gpu=JOBS.gpu("abc_posterior"),
        mem_mb=JOBS.mem_mb("abc_posterior"),
        runtime=JOBS.runtime("abc_posterior"),
    params:
        target=get_abc_target,
        abc=config["design"]["abc"],
        prior=config["spinodoid"],
        size=config["dataset"]["size"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/abc_posterior.py"


rule validate_design:
    input:
        summary=ABC_SUMMARY,
        model=CNN_MODEL,
    output:
        validation=VALIDATION,
        figure=report(
            f"{TARGET_DIR}/validation.png",
            caption="../report/validation.rst",
            category="3 Inverse design",
            subcategory="{target}",
        ),
    log:
        f"{LOGS}/design/validate-{{target}}.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 1
    resources:
        gpu=JOBS.gpu("validate_design"),
        mem_mb=JOBS.mem_mb("validate_design"),
        runtime=JOBS.runtime("validate_design"),
    params:
        n_structures=config["design"]["validation"]["n_structures"],
        size=config["dataset"]["size"],
        seed=config["seed"],
        solver=config["transport"]["diffusion"],
        device=config["device"],
    script:
        "../scripts/validate_design.py"


rule upscale_design:
    input:
        summary=ABC_SUMMARY,
    output:
        upscaling=UPSCALING,
    log:
        f"{LOGS}/design/upscale-{{target}}.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 1
    resources:
        mem_mb=JOBS.mem_mb("upscale_design"),
        runtime=JOBS.runtime("upscale_design"),
    params:
        factor=config["design"]["validation"]["upscale_factor"],
        n_structures=config["design"]["validation"]["upscale_structures"],
        size=config["dataset"]["size"],
        seed=config["seed"],
        solver=config["transport"]["diffusion"],
    script:
        "../scripts/upscale_design.py"


rule refine_design:
    input:
        model=CNN_MODEL,
        structures=STRUCTURES,
        transport=TRANSPORT,
        summary=ABC_SUMMARY,
        validation=VALIDATION,
        database=f"{TARGET_DIR}/abc.db",
    output:
        refine=REFINE,
        figure=report(
            f"{TARGET_DIR}/refine.png",
            caption="../report/refine.rst",
            category="3 Inverse design",
            subcategory="{target}",
        ),
    log:
        f"{LOGS}/design/refine-{{target}}.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 1  # targets run side by side on a CPU
    resources:
        gpu=JOBS.gpu("refine_design"),
        mem_mb=JOBS.mem_mb("refine_design"),
        runtime=JOBS.runtime("refine_design"),
    params:
        target=get_abc_target,
        work_dir=get_refine_work,
        refine=config["design"]["refine"],
        abc=config["design"]["abc"],
        prior=config["spinodoid"],
        learn_section=LEARN["diffusivity"],
        learn_common=LEARN_COMMON,
        size=config["dataset"]["size"],
        seed=config["seed"],
        solver=config["transport"]["diffusion"],
        n_validation=config["design"]["validation"]["n_structures"],
        device=config["device"],
    script:
        "../scripts/refine_design.py"
