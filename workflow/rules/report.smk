# The study's summary.md, from the files the stages wrote: one rule, whose inputs, params and
# script are those of the study's kind (common.smk: summary_kind): the [R22] chain (surrogate,
# ABC, validation) for spinodoids, the [Z23] chain (VAE, latent space, BO, transfer, scans) for
# membranes, the [A25] square-pore summary (labels, pVAE, latent design, slerp) for square pores
# and crops of a scan.

STAGE_TARGETS["report"] = [SUMMARY]


rule summary_report:
    input:
        unpack(get_summary_inputs),
    output:
        summary=report(SUMMARY, caption="../report/summary.rst", category="0 Summary"),
    log:
        f"{LOGS}/summary_report.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    resources:
        mem_mb=JOBS.mem_mb("summary_report"),
        runtime=JOBS.runtime("summary_report"),
    params:
        **summary_params(),
    script:
        f"../scripts/{summary_script()}"
