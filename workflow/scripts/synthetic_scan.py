"""Render a synthetic foam scan (imports.<scan>.synthetic) as a gray-value .npy file."""

import logging

import numpy as np

from poredesign.runlog import setup_logging
from poredesign.structures.foam import synthetic_foam

setup_logging(snakemake.log[0])
foam = dict(snakemake.params.foam)
gray = synthetic_foam(**foam)
np.save(snakemake.output.gray, gray)
log = logging.getLogger("synthetic_scan")
log.info("foam %s (%s), gray %d..%d", gray.shape, foam, gray.min(), gray.max())
