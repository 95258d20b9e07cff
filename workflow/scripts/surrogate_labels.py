"""Labels of the whole dataset: the solver's on the subset, the permeability CNN's on the rest."""

import torch

from poredesign.learn.surrogate_labels import label_with_surrogate
from poredesign.runlog import setup_logging
from poredesign.store import verify_store

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
for path in (snakemake.input.structures, snakemake.input.transport):
    verify_store(path)
label_with_surrogate(
    snakemake.input.structures,
    snakemake.input.transport,
    snakemake.input.model,
    snakemake.output.labels,
    batch_size=snakemake.params.batch_size,
    device=snakemake.params.device,
    progress_file=stream,
)
