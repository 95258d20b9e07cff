"""Latent gradient design [A25]: batched descent, designs evaluated three ways, baseline."""

import torch

from poredesign.design.gradient import LatentDesignSettings, latent_design
from poredesign.design.gradient.figures import plot_design_parity
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params, inp, out = snakemake.params, snakemake.input, snakemake.output
flow = dict(params.flow) | {"device": params.device, "threads": snakemake.threads}
latent_design(
    inp.pvae,
    inp.cnn,
    inp.structures,
    inp.labels,
    out.designs,
    out.summary,
    settings=LatentDesignSettings.from_config(params.settings),
    seed=params.seed,
    flow=flow,
    device=params.device,
    progress_file=stream,
)
plot_design_parity(out.designs, out.figure)
