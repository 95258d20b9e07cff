"""ABC-SMC posterior of spinodoid parameters for one diffusivity target (pyABC, batched model)."""

import logging

import torch

from poredesign.design.abc import (
    run_abc,
    save_outputs,
    spinodoid_cnn_model,
    spinodoid_prior_from_config,
)
from poredesign.devices import torch_device
from poredesign.learn import load_model, predict
from poredesign.runlog import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
log = logging.getLogger("abc")
params, abc = snakemake.params, snakemake.params.abc
device = torch_device(params.device)
cnn = load_model(snakemake.input.model, map_location=device)
model = spinodoid_cnn_model(
    lambda solid: predict(cnn, solid),
    params.size,
    params.seed,
    batch_size=abc["model_batch_size"],
    device=str(device),
)
result = run_abc(
    model,
    params.target,
    spinodoid_prior_from_config(params.prior, restrict=abc["restrict_prior"]),
    population=abc["population"],
    tolerances=abc["tolerances"],
    db_path=snakemake.output.database,
    seed=params.seed,
    batch_size=abc["batch_size"],
    min_acceptance_rate=abc["min_acceptance_rate"],
    max_total_nr_simulations=abc["max_evaluations"],
    max_walltime_s=abc["max_walltime_s"],
)
(log.info if result.converged else log.warning)("%s: %s", result.status, result.message)
save_outputs(
    result, snakemake.output.posterior, snakemake.output.marginals, snakemake.output.summary
)
