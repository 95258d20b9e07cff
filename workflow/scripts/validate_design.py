"""Validate the posterior mean of one target: new structures, eta from the CNN and the solver."""

import torch

from poredesign.design.abc.figures import plot_validation
from poredesign.design.abc.validate import posterior_mean, validate_design
from poredesign.devices import torch_device
from poredesign.jsonable import write_json
from poredesign.learn import load_model, predict
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
theta, target = posterior_mean(snakemake.input.summary)
device = torch_device(params.device)
cnn = load_model(snakemake.input.model, map_location=device)
result = validate_design(
    theta,
    params.size,
    params.n_structures,
    params.seed,
    predict_structures=lambda solid: predict(cnn, solid).cpu().numpy(),
    solver_options=params.solver,
    progress_file=stream,
)
summary = result.summary(target) | {
    "eta_solver": result.eta_solver.tolist(),
    "eta_surrogate": result.eta_surrogate.tolist(),
}
write_json(snakemake.output.validation, summary, nan_as_none=False, newline=False)
plot_validation(
    result.eta_solver,
    result.eta_surrogate,
    target,
    snakemake.output.figure,
    title=f"{snakemake.wildcards.target}: {params.n_structures} structures at the "
    f"posterior mean; MAPE (solver) {summary['mape_solver_percent']:.2f} %",
)
