"""Upscaling check: structures at factor * N with a / factor (same feature size), solver only."""

from poredesign.design.abc.validate import posterior_mean, upscaled_theta, validate_design
from poredesign.jsonable import write_json
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
params = snakemake.params
theta, target = posterior_mean(snakemake.input.summary)
result = validate_design(
    upscaled_theta(theta, params.factor),
    params.factor * params.size,
    params.n_structures,
    params.seed,
    solver_options=params.solver,
    progress_file=stream,
)
summary = result.summary(target) | {
    "factor": params.factor,
    "theta_base": theta.tolist(),
    "eta_solver": result.eta_solver.tolist(),
}
write_json(snakemake.output.upscaling, summary, nan_as_none=False, newline=False)
