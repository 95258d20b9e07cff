"""Transport properties of every structure of one shard (solver settings from config transport)."""

from poredesign.runlog import setup_logging
from poredesign.transport.dataset import simulate_store

stream = setup_logging(snakemake.log[0])
settings = snakemake.params.transport
flow = dict(settings["flow"]) | {"device": snakemake.params.device}
simulate_store(
    snakemake.input.structures,
    snakemake.output.transport,
    properties=settings["properties"],
    axes=settings["axes"],
    diffusion=settings["diffusion"],
    flow=flow,
    progress_file=stream,
)
