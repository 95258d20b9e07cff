# Latent space of the trained VAE [Z23] (SPEC 4.3): latent means and PCA, nearest-neighbour
# estimation of direction, intensity and porosity for the test split and for imported scans.

STAGE_TARGETS["latent"] = [
    LATENT_STORE,
    PCA_JSON,
    f"{LATENT_DIR}/pc12.png",
    f"{LATENT_DIR}/porosity_pc.png",
    f"{LATENT_DIR}/reference.png",
]
STAGE_TARGETS["estimate"] = [f"{ESTIMATE_DIR}/test.csv", f"{ESTIMATE_DIR}/summary.json"]


rule latent_space:
    input:
        structures=STRUCTURES,
        model=VAE_MODEL,
    output:
        latent=directory(LATENT_STORE),
        pca=PCA_JSON,
        pc_figure=report(
            f"{LATENT_DIR}/pc12.png",
            caption="../report/latent_pc12.rst",
            category="3 Latent space",
        ),
        porosity_figure=report(
            f"{LATENT_DIR}/porosity_pc.png",
            caption="../report/latent_porosity.rst",
            category="3 Latent space",
        ),
        reference_figure=report(
            f"{LATENT_DIR}/reference.png",
            caption="../report/latent_reference.rst",
            category="3 Latent space",
        ),
    log:
        f"{LOGS}/latent/latent_space.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 2
    resources:
        gpu=JOBS.gpu("latent_space"),
        mem_mb=JOBS.mem_mb("latent_space"),
        runtime=JOBS.runtime("latent_space"),
    params:
        batch_size=config["characterise"]["batch_size"],
        device=config["device"],
        reference_study=REFERENCE_STUDY,
        reference_model=REFERENCE_MODEL,
        reference_latent=REFERENCE_LATENT,
    script:
        "../scripts/latent_space.py"


rule estimate_test:
    input:
        latent=LATENT_STORE,
        pca=PCA_JSON,
        transport=TRANSPORT,
    output:
        table=f"{ESTIMATE_DIR}/test.csv",
        summary=f"{ESTIMATE_DIR}/summary.json",
    log:
        f"{LOGS}/latent/estimate_test.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    resources:
        mem_mb=JOBS.mem_mb("estimate_test"),
        runtime=JOBS.runtime("estimate_test"),
    script:
        "../scripts/estimate_properties.py"


rule estimate_scan:
    input:
        latent=LATENT_STORE,
        pca=PCA_JSON,
        model=VAE_MODEL,
        structures=SCAN_STRUCTURES,
        transport=SCAN_TRANSPORT,
    output:
        table=f"{ESTIMATE_DIR}/{{scan}}.csv",
    log:
        f"{LOGS}/latent/estimate-{{scan}}.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 2
    resources:
        gpu=JOBS.gpu("estimate_scan"),
        mem_mb=JOBS.mem_mb("estimate_scan"),
        runtime=JOBS.runtime("estimate_scan"),
    params:
        batch_size=config["characterise"]["batch_size"],
        device=config["device"],
    script:
        "../scripts/estimate_scan.py"
