"""Concatenate the shard stores, in shard order, into the study's structure store."""

import logging

from poredesign.runlog import setup_logging
from poredesign.store import gather_structures, verify_store

setup_logging(snakemake.log[0])
for shard in snakemake.input.shards:
    verify_store(shard)
gather_structures(snakemake.input.shards, snakemake.output.structures)
logging.getLogger("gather").info(
    "gathered %d shards into %s", len(snakemake.input.shards), snakemake.output.structures
)
