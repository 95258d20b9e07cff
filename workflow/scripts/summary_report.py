"""The study's summary.md: surrogate errors, per target posterior mean, validation and cost."""

from poredesign.report import write_study_summary
from poredesign.runlog import setup_logging

setup_logging(snakemake.log[0])
inp = snakemake.input
refine = inp.refine or [None] * len(snakemake.params.targets)
targets = {
    name: {"abc": abc, "validation": val, "upscaling": up, "refine": ref}
    for name, abc, val, up, ref in zip(
        snakemake.params.targets, inp.abc, inp.validation, inp.upscaling, refine, strict=True
    )
}
write_study_summary(snakemake.output.summary, snakemake.params.study, inp.metrics, targets)
