"""Solver-in-the-loop refinement of one target's ABC design (rounds, resume, refine.json)."""

import torch

from poredesign.design.abc import AbcSettings
from poredesign.design.abc.figures import plot_refinement
from poredesign.design.refine import RefineSettings
from poredesign.design.refine.spinodoid import RefineInputs, refine_spinodoid_design
from poredesign.jsonable import write_json
from poredesign.learn.fit import TrainSettings
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params, inp = snakemake.params, snakemake.input
record = refine_spinodoid_design(
    params.target,
    RefineInputs(
        model=inp.model,
        structures=inp.structures,
        transport=inp.transport,
        summary=inp.summary,
        validation=inp.validation,
        database=inp.database,
    ),
    params.work_dir,
    settings=RefineSettings.from_config(params.refine),
    abc=AbcSettings.from_config(params.abc),
    train=TrainSettings.for_model(
        "diffusivity", params.learn_section, params.learn_common, params.seed, params.device
    ),
    ranges=params.prior,
    solver=params.solver,
    size=params.size,
    seed=params.seed,
    n_validation=params.n_validation,
    device=params.device,
    log_file=stream,
)
write_json(snakemake.output.refine, record)
final = record["final"]["validation"]
plot_refinement(
    record,
    snakemake.output.figure,
    title=f"{snakemake.wildcards.target}: {record['rounds_run']} refinement rounds; final MAPE "
    f"(solver) {final['mape_solver_percent']:.2f} +- {final['mape_solver_se_percent']:.2f} %",
)
