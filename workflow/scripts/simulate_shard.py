"""Transport properties of every structure of one shard (solver settings from config transport)."""

from poredesign.runlog import setup_logging
from poredesign.store import verify_store
from poredesign.transport import label_structures

stream = setup_logging(snakemake.log[0])
verify_store(snakemake.input.structures)
settings = snakemake.params.transport
device = snakemake.params.device
# the lattice Boltzmann solvers run on the study's device with the rule's threads
flow = dict(settings["flow"]) | {"device": device, "threads": snakemake.threads}
diffusion = dict(settings["diffusion"])
if diffusion.get("method") == "lbm":
    diffusion |= {"device": device, "threads": snakemake.threads}
label_structures(
    snakemake.input.structures,
    snakemake.output.transport,
    which=settings["properties"],
    axes=settings["axes"],
    diffusion=diffusion,
    flow=flow,
    progress_file=stream,
    # labels.solver_subset: only the shard's structures inside the subset (other rules: all)
    stop=getattr(snakemake.params, "stop", None),
)
