"""Solver-in-the-loop refinement of one target's ABC design (rounds, resume, refine.json)."""

import torch

from poredesign.design.figures import plot_refinement
from poredesign.design.refine.spinodoid import refine_spinodoid_design
from poredesign.jsonable import write_json
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params, inp = snakemake.params, snakemake.input
record = refine_spinodoid_design(
    params.target,
    inp.model,
    inp.structures,
    inp.transport,
    inp.summary,
    inp.validation,
    inp.database,
    params.work_dir,
    params.refine,
    params.abc,
    params.prior,
    {"section": params.learn_section, "common": params.learn_common},
    params.size,
    params.seed,
    params.solver,
    params.n_validation,
    params.device,
    stream,
)
write_json(snakemake.output.refine, record)
final = record["final"]["validation"]
plot_refinement(
    record,
    snakemake.output.figure,
    title=f"{snakemake.wildcards.target}: {record['rounds_run']} refinement rounds; final MAPE "
    f"(solver) {final['mape_solver_percent']:.2f} +- {final['mape_solver_se_percent']:.2f} %",
)
