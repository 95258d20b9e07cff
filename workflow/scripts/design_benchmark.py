"""The inverse-design benchmark of a square-pore study: benchmark.json and figures."""

import numpy as np
import torch

from poredesign.design.benchmark import BenchmarkSettings, pvae_latent_method, run_benchmark
from poredesign.design.benchmark_figures import plot_benchmark, plot_feasibility
from poredesign.design.gradient import LatentDesignSettings, ReachableBand
from poredesign.design.gradient.run import load_trained_latent
from poredesign.jsonable import write_json
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params, inp, out = snakemake.params, snakemake.input, snakemake.output
flow = dict(params.flow) | {"device": params.device, "threads": snakemake.threads}
settings = BenchmarkSettings.from_config(params.benchmark)
latent = LatentDesignSettings.from_config(params.latent)
data = load_trained_latent(
    inp.pvae, inp.structures, inp.labels, params.device, latent.batch_size, stream
)
labelled, train = data.labelled, data.train
images = np.stack([np.asarray(data.structures[int(i)])[:, :, 0] for i in train])
band = ReachableBand.from_dataset(labelled[:, 0], labelled[:, 1], float(latent.band_quantile))
summary = run_benchmark(
    images,
    labelled[train],
    band,
    int(params.pore),
    int(params.seed),
    settings,
    latent=pvae_latent_method(data.pvae, data.mu, train, labelled[train, 1], latent),
    flow=flow,
    progress=lambda line: print(line, file=stream),
)
write_json(out.summary, summary)
plot_benchmark(summary, out.figure)
plot_feasibility(summary, labelled, out.feasibility)
