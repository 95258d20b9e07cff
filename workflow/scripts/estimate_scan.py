"""The estimate stage [Z23], one scan: crops encoded with the study's VAE, projected into its PCA,
properties from the nearest training neighbours (estimate/<scan>.csv)."""

import logging

import torch

from poredesign.characterise import estimate_scan, write_table
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
table, summary = estimate_scan(
    snakemake.input.latent,
    snakemake.input.model,
    snakemake.input.structures,
    snakemake.input.transport,
    pca_path=snakemake.input.pca,
    batch_size=snakemake.params.batch_size,
    device=snakemake.params.device,
    progress_file=stream,
)
write_table(snakemake.output.table, table)
logging.getLogger("poredesign.estimate").info("scan %s: %s", snakemake.wildcards.scan, summary)
