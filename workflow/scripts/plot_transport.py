"""Overview figure of the transport labels against porosity."""

from poredesign.plots import plot_transport_overview
from poredesign.runlog import setup_logging

setup_logging(snakemake.log[0])
plot_transport_overview(snakemake.input.transport, snakemake.output.figure)
