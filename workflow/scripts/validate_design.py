"""Validate the posterior mean of one target: new structures, eta from the CNN and the solver."""

import json

import numpy as np
import torch

from poredesign.design.validate import validate_design
from poredesign.learn import load_model, predict
from poredesign.learn.train import TrainSettings
from poredesign.plots import plot_validation
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
abc = json.loads(open(snakemake.input.summary).read())
theta = [abc["theta_hat"][name] for name in abc["param_names"]]
if any(value is None for value in theta):
    raise RuntimeError(f"ABC for target {snakemake.wildcards.target} completed no generation, so "
                       f"there is no posterior mean to validate: {abc['message']}")
target = np.asarray(abc["target_vector"])
device = TrainSettings(device=params.device).torch_device()
cnn = load_model(snakemake.input.model, map_location=device)
result = validate_design(
    theta, params.size, params.n_structures, params.seed,
    predict_structures=lambda solid: predict(cnn, solid).cpu().numpy(),
    solver_options=params.solver, progress_file=stream,
)
summary = result.summary(target) | {
    "eta_solver": result.eta_solver.tolist(), "eta_surrogate": result.eta_surrogate.tolist()}
with open(snakemake.output.validation, "w") as fh:
    json.dump(summary, fh, indent=2)
plot_validation(result.eta_solver, result.eta_surrogate, target, snakemake.output.figure,
                title=f"{snakemake.wildcards.target}: {params.n_structures} structures at the "
                      f"posterior mean; MAPE (solver) {summary['mape_solver_percent']:.2f} %")
