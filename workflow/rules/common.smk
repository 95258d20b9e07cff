# Helpers shared by the stages: artifact paths, shards, input functions of `wildcards`, stage
# targets. Rules reference these names only; the logic lives here and in src/poredesign.
import math

from poredesign.config import LATENT_DESIGN_GENERATORS
from poredesign.job_resources import JobResources
from poredesign.solver_fingerprint import solver_fingerprint

STUDY = config["study"]
ENVS = "../../envs"

# the solver's code fingerprint: a parameter of the rules that run the solver, so a changed
# solver reruns the labels (keep old ones with --rerun-triggers mtime)
SOLVER_FINGERPRINT = solver_fingerprint()

# -- artifact paths (relative to the working directory) ----------------------------------------
RESULTS = f"results/{STUDY}"
LOGS = f"{RESULTS}/logs"
FIGURES = f"{RESULTS}/figures"
SHARD_STRUCTURES = f"{RESULTS}/shards/structures-{{shard}}.zarr"
SHARD_TRANSPORT = f"{RESULTS}/shards/transport-{{shard}}.zarr"
STRUCTURES = f"{RESULTS}/structures.zarr"
TRANSPORT = f"{RESULTS}/transport.zarr"
MODELS_DIR = f"{RESULTS}/models"
MODEL_DIR = f"{MODELS_DIR}/{{model}}"
VAE_MODEL = f"{MODELS_DIR}/vae/model.pt"
CNN_MODEL = f"{MODELS_DIR}/diffusivity/model.pt"
CNN_METRICS = f"{MODELS_DIR}/diffusivity/metrics.json"
DESIGN = f"{RESULTS}/design"
LATENT_DIR = f"{RESULTS}/latent"
LATENT_STORE = f"{LATENT_DIR}/latent.zarr"
PCA_JSON = f"{LATENT_DIR}/pca.json"
ESTIMATE_DIR = f"{RESULTS}/estimate"
BO_DIR = f"{DESIGN}/bo/{{bo_target}}"
TRANSFER_DIR = f"{RESULTS}/transfer"
TRANSFER_DESIGN = f"{DESIGN}/transfer"
SCAN_STRUCTURES = f"{RESULTS}/imports/{{scan}}.zarr"
SCAN_TRANSPORT = f"{RESULTS}/imports/{{scan}}-transport.zarr"
# the gray scan rule synthetic_scan renders for imports.<scan>.synthetic
SCAN_GRAY = f"{RESULTS}/imports/{{scan}}-gray.npy"
TARGET_DIR = f"{DESIGN}/{{target}}"
ABC_SUMMARY = f"{TARGET_DIR}/abc.json"
VALIDATION = f"{TARGET_DIR}/validation.json"
UPSCALING = f"{TARGET_DIR}/upscaling.json"
REFINE = f"{TARGET_DIR}/refine.json"
# the refinement's rounds (labels, fine-tuned CNN, ABC History copies): not declared, so that a
# rerun of the rule resumes after the last completed round
REFINE_WORK = f"{TARGET_DIR}/refine"
SUMMARY = f"{RESULTS}/summary.md"
# [A25] square pores: labels of the whole dataset in the solver-subset mode, latent design, slerp
LABELS = f"{RESULTS}/labels.zarr"
LATENT_DESIGN_DIR = f"{DESIGN}/latent"
SLERP_DIR = f"{DESIGN}/slerp"
BENCHMARK_DIR = f"{DESIGN}/benchmark"

# -- study settings the rules read ---------------------------------------------------------------
LEARN = config["learn"]
TRAIN_MODELS = list(LEARN["models"])
TRAIN_OUTPUTS = ["model.pt", "model.json", "metrics.json", "loss.png", "parity.png"]
# keys of `learn` shared by every model (the per-model sections are dicts)
LEARN_COMMON = {key: value for key, value in LEARN.items() if not isinstance(value, dict)}
ABC_TARGETS = list(config["design"]["abc"]["targets"])
REFINE_ON = config["design"]["refine"]["enabled"]
BO_TARGETS = list(config["design"]["bo"]["targets"])
SCANS = list(config["imports"])
# generator imported: the dataset is crops of the scan dataset.scan (its imports store)
IMPORTED = config["generator"] == "imported"
DATASET_SCAN = config["dataset"]["scan"]
# crops of the scan at several compression levels ([A25]'s foam): rule compression_findings
COMPRESSION_ON = IMPORTED and len(config["imports"].get(DATASET_SCAN, {}).get("strains") or [0]) > 1
COMPRESSION_DIR = f"{RESULTS}/compression"
# the [A25] latent design and slerp stages (square pores, crops of a scan)
LATENT_DESIGN_ON = config["generator"] in LATENT_DESIGN_GENERATORS
# the inverse-design benchmark: square pores only, in the design stage
BENCHMARK_ON = config["generator"] == "squares" and config["design"]["benchmark"]["enabled"]
REFERENCE_STUDY = config["characterise"]["reference_study"]
# another study's VAE and latent store (its latent stage must have run): read by the latent
# stage, not declared as inputs, so that this study's dry run does not need them
REFERENCE_MODEL = REFERENCE_STUDY and f"results/{REFERENCE_STUDY}/models/vae/model.pt"
REFERENCE_LATENT = REFERENCE_STUDY and f"results/{REFERENCE_STUDY}/latent/latent.zarr"
# cluster requests (SLURM --mem, --time, --gpus) of each rule's jobs: config/resources.yaml with
# the study's sizes; a GPU only where the rule runs on the study's device and that is a GPU
JOBS = JobResources(config)


def model_job_request(what: str):
    """The train rule's request ``what`` (mem_mb or runtime) for its model wildcard."""

    def request(wildcards) -> int:
        return getattr(JOBS, what)("train_model", wildcards.model)

    return request


class StageTargets(dict):
    """The files each stage contributes to the default target, registered once by the rule file
    that owns the stage: a second registration is an error, so that no include order decides."""

    def __setitem__(self, stage: str, targets: list[str]) -> None:
        if stage in self:
            raise ValueError(
                f"stage {stage!r}: targets registered twice (one rule file owns a stage)"
            )
        super().__setitem__(stage, targets)


STAGE_TARGETS = StageTargets()


def design_method() -> str | None:
    """Which rule file owns this study's design stage, by generator. "abc" = design.smk (ABC over
    the spinodoid parameters [R22]); "gradient" = gradient.smk (the latent gradient design with
    the pVAE [A25], for square pores and crops of a scan); None for membranes (no design stage).
    """
    if LATENT_DESIGN_ON:
        return "gradient"
    return "abc" if config["generator"] == "spinodoid" else None


def n_shards() -> int:
    return math.ceil(config["dataset"]["n_structures"] / config["dataset"]["shard_size"])


SHARDS = [f"{i:04d}" for i in range(n_shards())]

# -- solver labels: every structure, or the first labels.solver_subset (the rest by the CNN) -----
SOLVER_SUBSET = config["labels"]["solver_subset"]
# the label store the pVAE and the latent design read
PROPERTY_LABELS = LABELS if SOLVER_SUBSET else TRANSPORT


def shard_range(shard: str) -> tuple[int, int]:
    """Indices [start, stop) of the structures in a shard."""
    size = config["dataset"]["shard_size"]
    start = int(shard) * size
    return start, min(start + size, config["dataset"]["n_structures"])


# shards with structures the solver labels (all of them unless labels.solver_subset is set)
SOLVER_SHARDS = [s for s in SHARDS if not SOLVER_SUBSET or shard_range(s)[0] < SOLVER_SUBSET]


def generator_options() -> dict:
    """The config section of the chosen generator (empty when it has none)."""
    return dict(config.get(config["generator"], {}))


def stage_targets() -> list[str]:
    missing = [s for s in config["stages"] if s not in STAGE_TARGETS]
    if missing:
        raise ValueError(
            f"config key 'stages': {missing} not available in this workflow; "
            f"allowed: {sorted(STAGE_TARGETS)}"
        )
    return [t for stage in config["stages"] for t in STAGE_TARGETS[stage]]


def lbm_threads() -> int:
    """Threads of a simulate job: 2 when a lattice Boltzmann solver runs on the CPU, else 1."""
    transport = config["transport"]
    lbm = "permeability" in transport["properties"] or transport["diffusion"].get("method") == "lbm"
    return 2 if lbm and config["device"] != "cuda" else 1


# -- input and parameter functions of `wildcards` --------------------------------------------------
def get_shard_range(wildcards) -> tuple[int, int]:
    return shard_range(wildcards.shard)


def get_solver_stop(wildcards) -> int | None:
    """Structures of a shard the solver labels (None = all of them)."""
    if not SOLVER_SUBSET:
        return None
    start, stop = shard_range(wildcards.shard)
    return min(stop, SOLVER_SUBSET) - start


def get_model_section(wildcards) -> dict:
    """The `learn.<model>` section of the model being trained; in the solver-subset mode the
    permeability CNN trains on the solver-labelled structures only."""
    section = LEARN[wildcards.model]
    if SOLVER_SUBSET and wildcards.model == "permeability":
        limit = section.get("max_structures") or SOLVER_SUBSET
        section = {**section, "max_structures": min(limit, SOLVER_SUBSET)}
    return section


def get_model_dir(wildcards) -> str:
    return MODEL_DIR.format(model=wildcards.model)


def get_train_properties(wildcards) -> list[str]:
    """The labels, for models that learn a property (none for the VAE): the solver's for the
    permeability CNN, the whole dataset's (solver and CNN in the solver-subset mode) for the rest.
    """
    if not LEARN[wildcards.model].get("targets"):
        return []
    return [TRANSPORT if wildcards.model == "permeability" else PROPERTY_LABELS]


def get_transfer_encoder(wildcards) -> list[str]:
    """The VAE weights the transfer regressor starts from (a given file, else this study's VAE)."""
    if wildcards.model != "transfer":
        return []
    transfer = LEARN["transfer"]
    if not transfer["hparams"].get("pretrained", True):
        return []
    return [transfer["encoder"] or VAE_MODEL]


def get_bo_target(wildcards) -> dict:
    """Generation parameters (radius, n_points, stretch) of a Bayesian-optimisation target."""
    return config["design"]["bo"]["targets"][wildcards.bo_target]


def scan_transport() -> dict:
    """The study's solver settings for crops of a scan: crops are not periodic, so diffusion has
    closed lateral sides and flow mirrors the volume along the flow axis (SPEC 2.1)."""
    transport = {
        key: dict(value) if isinstance(value, dict) else value
        for key, value in config["transport"].items()
    }
    transport["diffusion"]["lateral"] = "closed"
    transport["flow"]["mirror"] = True
    return transport


# crops are not periodic: a dataset of crops is solved like the imports stage's scans, for its
# labels and for the designs, baseline and slerp steps alike
STUDY_TRANSPORT = scan_transport() if IMPORTED else config["transport"]


def is_synthetic(scan: str) -> bool:
    return bool(config["imports"][scan].get("synthetic"))


def get_scan_options(wildcards) -> dict:
    """The `imports.<scan>` section (file, pore phase, crops); a synthetic scan is read from the
    file rule synthetic_scan renders."""
    options = dict(config["imports"][wildcards.scan])
    if options.pop("synthetic", None):
        options["path"] = SCAN_GRAY.format(scan=wildcards.scan)
    return options


def get_synthetic_scan(wildcards) -> list[str]:
    """The rendered scan file, for synthetic scans (user files are not inputs of the workflow)."""
    return [SCAN_GRAY.format(scan=wildcards.scan)] if is_synthetic(wildcards.scan) else []


def get_synthetic_options(wildcards) -> dict:
    """Foam settings, porosity and seed of a synthetic scan: the seed is the study seed and the
    scan's position among the imports, so two synthetic scans of a study differ."""
    scan = config["imports"][wildcards.scan]
    return {
        **scan["synthetic"],
        "porosity": scan["porosity"],
        "seed": [config["seed"], SCANS.index(wildcards.scan)],
    }


def get_dataset_crops(wildcards) -> list[str]:
    """The crop store a shard of a generator-imported dataset copies from (none for generators)."""
    return [SCAN_STRUCTURES.format(scan=DATASET_SCAN)] if IMPORTED else []


def get_abc_summary_inputs(wildcards) -> dict[str, str | list[str]]:
    """What the [R22] summary reads: the surrogate's metrics, each target's ABC, validation,
    upscaling (and refinement) results."""
    return {
        "metrics": CNN_METRICS,
        "abc": expand(ABC_SUMMARY, target=ABC_TARGETS),
        "validation": expand(VALIDATION, target=ABC_TARGETS),
        "upscaling": expand(UPSCALING, target=ABC_TARGETS),
        "refine": expand(REFINE, target=ABC_TARGETS) if REFINE_ON else [],
    }


def get_membrane_summary_inputs(wildcards) -> dict[str, str | list[str]]:
    """What the [Z23] summary reads: the VAE's metrics and the outputs of the stages that run."""
    stages = set(config["stages"])
    inputs: dict[str, str | list[str]] = {"vae_metrics": f"{MODELS_DIR}/vae/metrics.json"}
    if "latent" in stages:
        inputs["pca"] = PCA_JSON
    if "estimate" in stages:
        inputs["estimate"] = f"{ESTIMATE_DIR}/summary.json"
    if "bo" in stages:
        inputs["bo"] = expand(f"{BO_DIR}/bo.json", bo_target=BO_TARGETS)
    if "transfer" in stages:
        inputs["transfer"] = f"{TRANSFER_DESIGN}/transfer.json"
    if "imports" in stages:
        inputs["scans"] = expand(f"{ESTIMATE_DIR}/{{scan}}.csv", scan=SCANS)
        inputs["scan_crops"] = expand(SCAN_STRUCTURES, scan=SCANS)
    return inputs


def get_refine_work(wildcards) -> str:
    return REFINE_WORK.format(target=wildcards.target)


def get_abc_target(wildcards) -> list[float]:
    """The target diffusivity (eta_x, eta_y, eta_z) of an ABC run."""
    return config["design"]["abc"]["targets"][wildcards.target]


def get_squares_summary_inputs(wildcards) -> dict[str, str | list[str]]:
    """What the [A25] summary reads: labels, the models' metrics, the design and slerp outputs of
    the stages that run."""
    stages = set(config["stages"])
    inputs: dict[str, str | list[str]] = {"labels": PROPERTY_LABELS}
    for model in ("permeability", "pvae"):
        if model in TRAIN_MODELS:
            inputs[model] = f"{MODELS_DIR}/{model}/metrics.json"
    if "design" in stages:
        inputs["design"] = f"{LATENT_DESIGN_DIR}/latent_design.json"
        if BENCHMARK_ON:
            inputs["benchmark"] = f"{BENCHMARK_DIR}/benchmark.json"
    if "slerp" in stages:
        inputs["slerp"] = f"{SLERP_DIR}/slerp.json"
    if COMPRESSION_ON and "pvae" in TRAIN_MODELS:
        inputs["compression"] = f"{COMPRESSION_DIR}/compression.json"
    return inputs


# -- the summary (report stage): one kind per generator -------------------------------------------
def summary_kind() -> str:
    """The kind of summary.md, by generator: "spinodoid", the [R22] chain (surrogate, ABC,
    validation); "membrane" (voronoi), the [Z23] chain (VAE, latent space, BO, transfer, scans);
    "squares", the [A25] summary (labels, pVAE, latent design, slerp) of square pores and crops."""
    if config["generator"] == "spinodoid":
        return "spinodoid"
    return "squares" if LATENT_DESIGN_ON else "membrane"


def get_summary_inputs(wildcards) -> dict[str, str | list[str]]:
    """What summary.md is made of, for this study's kind."""
    return {
        "spinodoid": get_abc_summary_inputs,
        "membrane": get_membrane_summary_inputs,
        "squares": get_squares_summary_inputs,
    }[summary_kind()](wildcards)


def summary_params() -> dict:
    """The study name and what the summary script of this study's kind names its sections by."""
    return {
        "spinodoid": {"study": STUDY, "targets": ABC_TARGETS},
        "membrane": {"study": STUDY, "bo_targets": BO_TARGETS, "scans": SCANS},
        "squares": {"study": STUDY, "generator": config["generator"]},
    }[summary_kind()]


def summary_script() -> str:
    """The script (in workflow/scripts) that writes summary.md for this study's kind."""
    return {
        "spinodoid": "summary_report.py",
        "membrane": "membrane_summary.py",
        "squares": "squares_summary.py",
    }[summary_kind()]
