"""Generate one shard of the dataset (structures start..stop-1) into a structure store."""

from poredesign.runlog import setup_logging
from poredesign.structures import generate_dataset, make_sampler

log_stream = setup_logging(snakemake.log[0])
params = snakemake.params
start, stop = params.index_range
generate_dataset(
    snakemake.output.structures,
    make_sampler(params.generator, params.size, params.options),
    seed=params.seed,
    start=start,
    stop=stop,
    max_attempts=params.max_attempts,
    generator=params.generator,
    generator_config=params.options,
    progress_file=log_stream,
)
