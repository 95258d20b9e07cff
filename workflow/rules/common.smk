# Helpers shared by the stages (result paths, shards, stage targets).
import math

STUDY = config["study"]
RESULTS = f"results/{STUDY}"
LOGS = f"{RESULTS}/logs"
ENVS = "../../envs"

# each stage registers the files its stage contributes to the default target
STAGE_TARGETS: dict[str, list[str]] = {}


def n_shards() -> int:
    return math.ceil(config["dataset"]["n_structures"] / config["dataset"]["shard_size"])


SHARDS = [f"{i:04d}" for i in range(n_shards())]


def shard_range(shard: str) -> tuple[int, int]:
    """Indices [start, stop) of the structures in a shard."""
    size = config["dataset"]["shard_size"]
    start = int(shard) * size
    return start, min(start + size, config["dataset"]["n_structures"])


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
