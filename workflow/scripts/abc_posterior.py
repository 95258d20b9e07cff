"""ABC-SMC posterior of spinodoid parameters for one diffusivity target (pyABC, batched model)."""

import logging

import torch

from poredesign.design.abc import (
    AbcSettings,
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
params = snakemake.params
abc = AbcSettings.from_config(params.abc)
device = torch_device(params.device)
cnn = load_model(snakemake.input.model, map_location=device)
model = spinodoid_cnn_model(
    lambda solid: predict(cnn, solid),
    params.size,
    params.seed,
    batch_size=abc.model_batch_size,
    device=str(device),
)
result = run_abc(
    model,
    params.target,
    spinodoid_prior_from_config(params.prior, restrict=abc.restrict_prior),
    db_path=snakemake.output.database,
    seed=params.seed,
    **abc.run_kwargs(),
)
(log.info if result.converged else log.warning)("%s: %s", result.status, result.message)
save_outputs(
    result, snakemake.output.posterior, snakemake.output.marginals, snakemake.output.summary
)
