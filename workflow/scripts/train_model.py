"""Train one surrogate model of SPEC 3 (wildcard ``model``): weights, metrics, figures."""

import torch

from poredesign.learn.data import DataConfig
from poredesign.learn.fit import TrainSettings
from poredesign.learn.train import train
from poredesign.runlog import setup_logging
from poredesign.store import verify_store

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params, inp, out = snakemake.params, snakemake.input, snakemake.output
for store in [inp.structures, *inp.properties]:
    verify_store(store)  # a lost or damaged chunk must not train as data
section, common = params.section, params.common
train(
    snakemake.wildcards.model,
    inp.structures,
    inp.properties[0] if inp.properties else None,
    out_dir=params.out_dir,
    model_kwargs=section.get("hparams", {}),
    data=DataConfig.for_model(
        snakemake.wildcards.model, section, split=common["split"], seed=params.seed
    ),
    settings=TrainSettings.for_model(
        snakemake.wildcards.model, section, common, params.seed, params.device
    ),
    outputs={
        "model": out.model,
        "metrics": out.metrics,
        "loss_figure": out.loss,
        "parity_figure": out.parity,
    },
    encoder=inp.encoder[0] if inp.encoder else None,
    search=section.get("search"),
)
