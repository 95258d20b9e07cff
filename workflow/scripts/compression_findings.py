"""The foam's compression levels [A25]: tensor per strain, latent PCA against strain and the
properties, slerp solved for the tensor; two figures."""

import torch

from poredesign.characterise.compression import compression_findings
from poredesign.characterise.compression_figures import (
    plot_compression_latent,
    plot_compression_properties,
)
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params, inp, out = snakemake.params, snakemake.input, snakemake.output
compression_findings(
    inp.pvae,
    inp.structures,
    inp.transport,
    out.result,
    out.store,
    slerp_steps=params.steps,
    flow=dict(params.flow) | {"device": params.device, "threads": snakemake.threads},
    device=params.device,
    progress_file=stream,
)
plot_compression_latent(out.result, out.store, out.latent)
plot_compression_properties(out.result, out.store, out.properties)
