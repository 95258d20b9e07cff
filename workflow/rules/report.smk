# The study's summary.md, from the files the stages wrote: the [R22] chain (surrogate, ABC,
# validation) for spinodoids, the [Z23] chain (VAE, latent space, BO, transfer, scans) for
# membranes; the [A25] square-pore summary is in gradient.smk.

STAGE_TARGETS["report"] = [SUMMARY]


if config["generator"] == "spinodoid":

    rule summary_report:
        input:
            metrics=CNN_METRICS,
            abc=expand(ABC_SUMMARY, target=ABC_TARGETS),
            validation=expand(VALIDATION, target=ABC_TARGETS),
            upscaling=expand(UPSCALING, target=ABC_TARGETS),
            refine=expand(REFINE, target=ABC_TARGETS) if REFINE_ON else [],
        output:
            summary=report(SUMMARY, caption="../report/summary.rst", category="0 Summary"),
        log:
            f"{LOGS}/summary_report.log",
        conda:
            f"{ENVS}/poredesign.yaml"
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            study=STUDY,
            targets=ABC_TARGETS,
        script:
            "../scripts/summary_report.py"

elif config["generator"] == "voronoi":

    rule summary_report:
        input:
            unpack(get_membrane_summary_inputs),
        output:
            summary=report(SUMMARY, caption="../report/summary.rst", category="0 Summary"),
        log:
            f"{LOGS}/summary_report.log",
        conda:
            f"{ENVS}/poredesign.yaml"
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            study=STUDY,
            bo_targets=BO_TARGETS,
            scans=SCANS,
        script:
            "../scripts/membrane_summary.py"
