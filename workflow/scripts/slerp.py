"""Slerp between two latent codes [A25]: decoded images and properties along the path."""

import torch

from poredesign.design.gradient import slerp_stage
from poredesign.design.gradient.figures import plot_slerp
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params, inp, out = snakemake.params, snakemake.input, snakemake.output
slerp_stage(
    inp.pvae,
    inp.structures,
    inp.labels,
    out.result,
    out.images,
    steps=params.slerp["steps"],
    endpoints=params.slerp["endpoints"],
    flow=dict(params.flow) | {"device": params.device, "threads": snakemake.threads},
    device=params.device,
    progress_file=stream,
)
plot_slerp(out.result, out.images, out.figure, strip=params.slerp["strip"])
