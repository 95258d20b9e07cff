"""The [Z23] study's summary.md: VAE, latent space, estimation, BO, transfer learning, scans."""

from poredesign.report import write_membrane_summary
from poredesign.runlog import setup_logging

setup_logging(snakemake.log[0])
inp, params = snakemake.input, snakemake.params
write_membrane_summary(
    snakemake.output.summary,
    params.study,
    vae_metrics=inp.vae_metrics,
    pca=inp.get("pca"),
    estimate=inp.get("estimate"),
    bo=dict(zip(params.bo_targets, inp.get("bo", []), strict=True)) if "bo" in inp.keys() else None,
    transfer=inp.get("transfer"),
    scans=dict(zip(params.scans, inp.get("scans", []), strict=True))
    if "scans" in inp.keys()
    else None,
    scan_crops=dict(zip(params.scans, inp.get("scan_crops", []), strict=True))
    if "scan_crops" in inp.keys()
    else None,
)
