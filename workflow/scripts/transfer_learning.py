"""Transfer learning [Z23] (SPEC 3.5): the regressor on the frozen VAE encoder against the same
network from scratch, repeated; transfer.json (runs, means, Welch test) and the box plot."""

import torch

from poredesign.learn.transfer_experiment import (
    compare_transfer,
    plot_transfer,
    write_transfer_json,
)
from poredesign.runlog import setup_logging
from poredesign.store import verify_store

log_stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params, inp, out = snakemake.params, snakemake.input, snakemake.output
for path in (inp.structures, inp.transport):
    verify_store(path)  # a lost or damaged chunk must not train as data
result = compare_transfer(
    inp.structures,
    inp.transport,
    inp.encoder,
    section=params.section,
    common=params.common,
    split=params.split,
    seed=params.seed,
    device=params.device,
    progress_file=log_stream,
)
write_transfer_json(result, out.result)
plot_transfer(result, out.figure)
