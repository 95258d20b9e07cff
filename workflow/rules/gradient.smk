# Latent gradient design and slerp with the property VAE [A25] (SPEC 4.4): the design and slerp
# stages of the square-pore study (2D pVAE on the images) and of a study of crops of a scan (3D
# pVAE on the volumes); for these generators this file owns the design stage (common.smk:
# design_method; ABC in design.smk is the spinodoid study's). Their summary is in report.smk.

if LATENT_DESIGN_ON:
    STAGE_TARGETS["design"] = [
        f"{LATENT_DESIGN_DIR}/designs.zarr",
        f"{LATENT_DESIGN_DIR}/latent_design.json",
        f"{LATENT_DESIGN_DIR}/parity.png",
    ] + (
        [
            f"{BENCHMARK_DIR}/benchmark.json",
            f"{BENCHMARK_DIR}/benchmark.png",
            f"{BENCHMARK_DIR}/feasibility.png",
        ]
        if BENCHMARK_ON
        else []
    )
    STAGE_TARGETS["slerp"] = [f"{SLERP_DIR}/slerp.json", f"{SLERP_DIR}/slerp.png"]

    rule latent_design:
        input:
            pvae=f"{MODELS_DIR}/pvae/model.pt",
            cnn=f"{MODELS_DIR}/permeability/model.pt",
            structures=STRUCTURES,
            labels=PROPERTY_LABELS,
        output:
            designs=directory(f"{LATENT_DESIGN_DIR}/designs.zarr"),
            summary=f"{LATENT_DESIGN_DIR}/latent_design.json",
            figure=report(
                f"{LATENT_DESIGN_DIR}/parity.png",
                caption="../report/latent_design.rst",
                category="3 Inverse design",
                subcategory="latent gradient design",
            ),
        log:
            f"{LOGS}/design/latent_design.log",
        conda:
            f"{ENVS}/poredesign.yaml"
        threads: 2
        resources:
            gpu=JOBS.gpu("latent_design"),
            mem_mb=JOBS.mem_mb("latent_design"),
            runtime=JOBS.runtime("latent_design"),
        params:
            settings=config["design"]["latent"],
            flow=STUDY_TRANSPORT["flow"],
            seed=config["seed"],
            device=config["device"],
        script:
            "../scripts/latent_design.py"

    rule slerp:
        input:
            pvae=f"{MODELS_DIR}/pvae/model.pt",
            structures=STRUCTURES,
            labels=PROPERTY_LABELS,
        output:
            result=f"{SLERP_DIR}/slerp.json",
            images=directory(f"{SLERP_DIR}/slerp.zarr"),
            figure=report(
                f"{SLERP_DIR}/slerp.png",
                caption="../report/slerp.rst",
                category="3 Inverse design",
                subcategory="slerp",
            ),
        log:
            f"{LOGS}/design/slerp.log",
        conda:
            f"{ENVS}/poredesign.yaml"
        threads: 2
        resources:
            gpu=JOBS.gpu("slerp"),
            mem_mb=JOBS.mem_mb("slerp"),
            runtime=JOBS.runtime("slerp"),
        params:
            slerp=config["design"]["slerp"],
            flow=STUDY_TRANSPORT["flow"],
            device=config["device"],
        script:
            "../scripts/slerp.py"


if LATENT_DESIGN_ON and BENCHMARK_ON:

    # the inverse-design benchmark: targets in and beyond the data band, the nearest
    # training structure, the latent descent (paper, and best of starts by the solver) and the
    # solver-in-the-loop search in square-pore space at an equal solver budget per target
    rule design_benchmark:
        input:
            pvae=f"{MODELS_DIR}/pvae/model.pt",
            structures=STRUCTURES,
            labels=PROPERTY_LABELS,
        output:
            summary=f"{BENCHMARK_DIR}/benchmark.json",
            figure=report(
                f"{BENCHMARK_DIR}/benchmark.png",
                caption="../report/design_benchmark.rst",
                category="3 Inverse design",
                subcategory="design benchmark",
            ),
            feasibility=report(
                f"{BENCHMARK_DIR}/feasibility.png",
                caption="../report/feasibility.rst",
                category="3 Inverse design",
                subcategory="design benchmark",
            ),
        log:
            f"{LOGS}/design/benchmark.log",
        conda:
            f"{ENVS}/poredesign.yaml"
        threads: 2
        resources:
            gpu=JOBS.gpu("design_benchmark"),
            mem_mb=JOBS.mem_mb("design_benchmark"),
            runtime=JOBS.runtime("design_benchmark"),
        params:
            benchmark=config["design"]["benchmark"],
            latent=config["design"]["latent"],
            pore=config["squares"]["pore"],
            flow=STUDY_TRANSPORT["flow"],
            seed=config["seed"],
            device=config["device"],
        script:
            "../scripts/design_benchmark.py"


if LATENT_DESIGN_ON and COMPRESSION_ON:

    # crops at several compression levels ([A25]'s foam): the tensor per level, the latent PCA
    # against strain, the PC-property correlations and the slerp solved for the tensor; the
    # summary reads them
    rule compression_findings:
        input:
            pvae=f"{MODELS_DIR}/pvae/model.pt",
            structures=STRUCTURES,
            transport=TRANSPORT,
        output:
            result=f"{COMPRESSION_DIR}/compression.json",
            store=directory(f"{COMPRESSION_DIR}/compression.zarr"),
            latent=report(
                f"{COMPRESSION_DIR}/latent.png",
                caption="../report/compression.rst",
                category="3 Inverse design",
                subcategory="compression levels",
            ),
            properties=report(
                f"{COMPRESSION_DIR}/properties.png",
                caption="../report/compression.rst",
                category="3 Inverse design",
                subcategory="compression levels",
            ),
        log:
            f"{LOGS}/design/compression.log",
        conda:
            f"{ENVS}/poredesign.yaml"
        threads: 2
        resources:
            gpu=JOBS.gpu("compression_findings"),
            mem_mb=JOBS.mem_mb("compression_findings"),
            runtime=JOBS.runtime("compression_findings"),
        params:
            steps=config["design"]["slerp"]["steps"],
            flow=STUDY_TRANSPORT["flow"],
            device=config["device"],
        script:
            "../scripts/compression_findings.py"
