"""Upscaling check: structures at factor * N with a / factor (same feature size), solver only."""

import json

from poredesign.design.validate import upscaled_theta, validate_design
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
params = snakemake.params
abc = json.loads(open(snakemake.input.summary).read())
theta = [abc["theta_hat"][name] for name in abc["param_names"]]
if any(value is None for value in theta):
    raise RuntimeError(f"ABC for target {snakemake.wildcards.target} completed no generation, so "
                       f"there is no posterior mean to validate: {abc['message']}")
result = validate_design(
    upscaled_theta(theta, params.factor), params.factor * params.size, params.n_structures,
    params.seed, solver_options=params.solver, progress_file=stream,
)
summary = result.summary(abc["target_vector"]) | {
    "factor": params.factor, "theta_base": theta, "eta_solver": result.eta_solver.tolist()}
with open(snakemake.output.upscaling, "w") as fh:
    json.dump(summary, fh, indent=2)
