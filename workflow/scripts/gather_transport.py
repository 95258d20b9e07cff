"""Concatenate the shards' transport stores, in shard order, into transport.zarr."""

from poredesign.runlog import setup_logging
from poredesign.store import gather_arrays, verify_store

setup_logging(snakemake.log[0])
for shard in snakemake.input.shards:
    verify_store(shard)
gather_arrays(snakemake.input.shards, snakemake.output.transport)
