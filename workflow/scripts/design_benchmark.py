"""The inverse-design benchmark of a square-pore study: benchmark.json and figures."""

import numpy as np
import torch

from poredesign import store
from poredesign.characterise.space import encode_store, load_vae, split_labels
from poredesign.design.benchmark import BenchmarkSettings, pvae_latent_method, run_benchmark
from poredesign.design.benchmark_figures import plot_benchmark, plot_feasibility
from poredesign.design.gradient import LatentDesignSettings, ReachableBand, read_properties
from poredesign.jsonable import write_json
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params, inp, out = snakemake.params, snakemake.input, snakemake.output
flow = dict(params.flow) | {"device": params.device, "threads": snakemake.threads}
settings = BenchmarkSettings.from_config(params.benchmark)
latent = LatentDesignSettings.from_config(params.latent)
pvae = load_vae(inp.pvae, params.device)
pvae.requires_grad_(False)
structures = store.StructureStore(inp.structures)
n = len(structures)
labelled = read_properties(inp.labels, n)
train = np.flatnonzero((split_labels(n, pvae.data_config) == 0) & np.isfinite(labelled).all(1))
images = np.stack([np.asarray(structures[int(i)])[:, :, 0] for i in train])
mu, _ = encode_store(pvae, structures, int(latent.batch_size), stream)
band = ReachableBand.from_dataset(labelled[:, 0], labelled[:, 1], float(latent.band_quantile))
summary = run_benchmark(
    images,
    labelled[train],
    band,
    int(params.pore),
    int(params.seed),
    settings,
    latent=pvae_latent_method(pvae, mu, train, labelled[train, 1], latent),
    flow=flow,
    progress=lambda line: print(line, file=stream),
)
write_json(out.summary, summary)
plot_benchmark(summary, out.figure)
plot_feasibility(summary, labelled, out.feasibility)
