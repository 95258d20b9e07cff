"""The [A25] study's summary.md (square pores or crops of a scan) from the files its stages
wrote."""

from poredesign.report import write_squares_summary
from poredesign.runlog import setup_logging

setup_logging(snakemake.log[0])
inp = snakemake.input
write_squares_summary(
    snakemake.output.summary,
    snakemake.params.study,
    labels=inp.labels,
    permeability=inp.get("permeability"),
    pvae=inp.get("pvae"),
    design=inp.get("design"),
    slerp=inp.get("slerp"),
    generator=snakemake.params.generator,
    benchmark=inp.get("benchmark"),
    compression=inp.get("compression"),
)
