"""The estimate stage [Z23], test split: direction, intensity and porosity of each test structure
from its nearest training neighbours in the latent PCA (test.csv, summary.json)."""

import logging

from poredesign.characterise import estimate_test, write_table
from poredesign.jsonable import write_json
from poredesign.runlog import setup_logging

setup_logging(snakemake.log[0])
table, summary = estimate_test(
    snakemake.input.latent, snakemake.input.transport, pca_path=snakemake.input.pca
)
write_table(snakemake.output.table, table)
write_json(snakemake.output.summary, summary, newline=False)
logging.getLogger("poredesign.estimate").info("test estimates: %s", summary)
