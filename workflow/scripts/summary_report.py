"""The study's summary.md: surrogate errors, per target posterior mean, validation and cost."""

from poredesign.report import write_study_summary
from poredesign.runlog import setup_logging

setup_logging(snakemake.log[0])
inp = snakemake.input
targets = {
    name: {"abc": abc, "validation": val, "upscaling": up}
    for name, abc, val, up in zip(
        snakemake.params.targets, inp.abc, inp.validation, inp.upscaling, strict=True
    )
}
write_study_summary(snakemake.output.summary, snakemake.params.study, inp.metrics, targets)
