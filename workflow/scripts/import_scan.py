"""Import one measured scan (wildcard ``scan``): pore phase, crops resized to dataset.size,
percolation flags, into a structure store; figure of the scan, its phase and a few crops."""

from poredesign.runlog import setup_logging
from poredesign.structures.figures import plot_scan_import
from poredesign.structures.scans import generator_param_names, import_scan

stream = setup_logging(snakemake.log[0])
params = snakemake.params
import_scan(
    params.scan,
    params.size,
    snakemake.output.structures,
    name=snakemake.wildcards.scan,
    param_names=generator_param_names(params.generator),
    study_generator=params.generator,
    seed=params.seed,
    progress_file=stream,
)
plot_scan_import(snakemake.output.structures, snakemake.output.figure)
