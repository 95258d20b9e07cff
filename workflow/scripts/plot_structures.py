"""Overview figure of a structure store: mid-slices and the parameter distributions."""

from poredesign.plots import plot_structure_overview
from poredesign.runlog import setup_logging
from poredesign.store import StructureStore

setup_logging(snakemake.log[0])
plot_structure_overview(StructureStore(snakemake.input.structures), snakemake.output.figure)
