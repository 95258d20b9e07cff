"""The latent stage [Z23]: latent means, VAE split, PCA (latent.zarr, pca.json) and its figures."""

import torch

from poredesign.characterise import latent_space, read_latent
from poredesign.characterise.figures import plot_pc12, plot_porosity_pc, plot_reference
from poredesign.runlog import setup_logging

stream = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
study = params.reference_study
reference = None
if study:
    reference = {
        "study": study,
        # params, not inputs: another study's files, so this study's dry run does not need them
        "model": params.reference_model,
        "latent": params.reference_latent,
    }
latent = latent_space(
    snakemake.input.structures,
    snakemake.input.model,
    snakemake.output.latent,
    snakemake.output.pca,
    batch_size=params.batch_size,
    device=params.device,
    reference=reference,
    progress_file=stream,
)
plot_pc12(latent, snakemake.output.pc_figure)
plot_porosity_pc(latent, snakemake.output.porosity_figure)
plot_reference(
    snakemake.output.reference_figure,
    latent,
    read_latent(reference["latent"]) if reference else None,
    study,
)
