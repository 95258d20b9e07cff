"""Generate one shard of the dataset (structures start..stop-1) into a structure store; for
generator imported, copy those structures from the scan's crops."""

from poredesign.runlog import setup_logging
from poredesign.structures import generate_dataset, make_sampler
from poredesign.structures.scan_dataset import write_crop_shard

log_stream = setup_logging(snakemake.log[0])
params = snakemake.params
start, stop = params.index_range
if params.generator == "imported":
    write_crop_shard(
        snakemake.input.crops[0],
        snakemake.output.structures,
        n=params.n_structures,
        seed=params.seed,
        start=start,
        stop=stop,
        progress_file=log_stream,
    )
else:
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
