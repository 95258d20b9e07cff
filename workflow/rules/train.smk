# Stage 3: surrogate models (SPEC 3), one job per model in learn.models. A job resumes from its
# checkpoints (models/<model>/checkpoints/last.ckpt) when only the epoch budget changed.

MODELS_DIR = f"{RESULTS}/models"
CNN_DIR = f"{MODELS_DIR}/diffusivity"
LEARN = config["learn"]
TRAIN_MODELS = list(LEARN["models"])
TRAIN_OUTPUTS = ["model.pt", "model.json", "metrics.json", "loss.png", "parity.png"]

STAGE_TARGETS["train"] = expand(
    f"{MODELS_DIR}/{{model}}/{{output}}", model=TRAIN_MODELS, output=TRAIN_OUTPUTS
)


wildcard_constraints:
    model="diffusivity|permeability|vae|pvae|transfer",


rule train_model:
    input:
        structures=f"{RESULTS}/structures.zarr",
        properties=lambda wildcards: (
            [f"{RESULTS}/transport.zarr"] if LEARN[wildcards.model].get("targets") else []
        ),
        encoder=lambda wildcards: (
            [LEARN["transfer"]["encoder"] or f"{MODELS_DIR}/vae/model.pt"]
            if wildcards.model == "transfer"
            and LEARN["transfer"]["hparams"].get("pretrained", True)
            else []
        ),
    output:
        model=f"{MODELS_DIR}/{{model}}/model.pt",
        hparams=f"{MODELS_DIR}/{{model}}/model.json",
        metrics=f"{MODELS_DIR}/{{model}}/metrics.json",
        loss=report(
            f"{MODELS_DIR}/{{model}}/loss.png",
            caption="../report/train_loss.rst",
            category="2 Learning",
            subcategory="{model}",
        ),
        parity=report(
            f"{MODELS_DIR}/{{model}}/parity.png",
            caption="../report/train_parity.rst",
            category="2 Learning",
            subcategory="{model}",
        ),
    log:
        f"{LOGS}/train/{{model}}.log",
    params:
        section=lambda wildcards: LEARN[wildcards.model],
        common={k: v for k, v in LEARN.items() if not isinstance(v, dict)},
        out_dir=lambda wildcards: f"{MODELS_DIR}/{wildcards.model}",
        seed=config["seed"],
        device=config["device"],
    threads: 4
    resources:
        gpu=0 if config["device"] == "cpu" else 1,
        mem_mb=32000,
        runtime=24 * 60,
    conda:
        f"{ENVS}/poredesign.yaml"
    script:
        "../scripts/train_model.py"
