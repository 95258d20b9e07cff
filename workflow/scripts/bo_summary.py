"""Summary table of the Bayesian optimisation stage: per target the true parameters and the
median and best repeats' recovered parameters and latent distances [Z23]."""

import logging

from poredesign.design.bo import write_summary
from poredesign.runlog import setup_logging

setup_logging(snakemake.log[0])
rows = write_summary(snakemake.input.results, snakemake.params.targets, snakemake.output.table)
logging.getLogger("bo").info("%d rows written to %s", len(rows), snakemake.output.table)
