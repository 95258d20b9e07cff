"""The transfer stage's second Voronoi dataset [Z23] (SPEC 3.5) into a structure store."""

from poredesign.learn.transfer_experiment import generate_transfer_dataset
from poredesign.runlog import setup_logging

log_stream = setup_logging(snakemake.log[0])
params = snakemake.params
generate_transfer_dataset(
    snakemake.output.structures,
    voronoi=params.voronoi,
    transfer_data=params.transfer_data,
    size=params.size,
    seed=params.seed,
    max_attempts=params.max_attempts,
    progress_file=log_stream,
)
