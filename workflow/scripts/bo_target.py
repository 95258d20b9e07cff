"""Bayesian optimisation (Optuna GPSampler) of Voronoi generation parameters for one target [Z23].

The SQLite storage design/bo/<target>/bo.db lies beside bo.json and is not a declared output, so a
rerun of a killed job resumes every repeat's study where it stopped.
"""

import logging
from pathlib import Path

import torch

from poredesign.design.bo import plot_convergence, run_bo, write_result
from poredesign.devices import torch_device
from poredesign.learn import load_model
from poredesign.runlog import setup_logging
from poredesign.structures.sampling import make_sampler

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
log = logging.getLogger("bo")
params, bo = snakemake.params, snakemake.params.bo
name = snakemake.wildcards.bo_target
device = torch_device(params.device)
vae = load_model(snakemake.input.model, map_location=device)
result = run_bo(
    lambda solids: vae.latent_descriptors(solids, batch_size=1),
    make_sampler("voronoi", params.size, params.voronoi),
    params.target,
    name=name,
    seed=params.seed,
    db=Path(snakemake.output.result).with_name("bo.db"),
    bounds=bo["bounds"],
    n_trials=bo["n_trials"],
    n_startup_trials=bo["n_startup_trials"],
    repeats=bo["repeats"],
    candidate_seed=bo["candidate_seed"],
    progress_file=stream,
)
result["model"] = str(snakemake.input.model)
result["device"] = str(device)
log.info(
    "%s: median repeat %d distance %.5g, best repeat %d distance %.5g",
    name,
    result["median"]["repeat"],
    result["median"]["best_distance"],
    result["best"]["repeat"],
    result["best"]["best_distance"],
)
write_result(result, snakemake.output.result)
plot_convergence(result, snakemake.output.figure)
