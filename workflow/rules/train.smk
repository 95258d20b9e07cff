# Stage 3: surrogate models (SPEC 3), one job per model in learn.models. A job resumes from its
# checkpoints (models/<model>/checkpoints/last.ckpt) when only the epoch budget changed.

STAGE_TARGETS["train"] = expand(f"{MODEL_DIR}/{{output}}", model=TRAIN_MODELS, output=TRAIN_OUTPUTS)


wildcard_constraints:
    model="diffusivity|permeability|vae|pvae|transfer",


rule train_model:
    input:
        structures=STRUCTURES,
        properties=get_train_properties,
        encoder=get_transfer_encoder,
    output:
        model=f"{MODEL_DIR}/model.pt",
        hparams=f"{MODEL_DIR}/model.json",
        metrics=f"{MODEL_DIR}/metrics.json",
        loss=report(
            f"{MODEL_DIR}/loss.png",
            caption="../report/train_loss.rst",
            category="2 Learning",
            subcategory="{model}",
        ),
        parity=report(
            f"{MODEL_DIR}/parity.png",
            caption="../report/train_parity.rst",
            category="2 Learning",
            subcategory="{model}",
        ),
    log:
        f"{LOGS}/train/{{model}}.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 4
    resources:
        gpu=JOBS.gpu("train_model"),
        mem_mb=model_job_request("mem_mb"),
        runtime=model_job_request("runtime"),
    params:
        section=get_model_section,
        common=LEARN_COMMON,
        out_dir=get_model_dir,
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/train_model.py"
