# Imported scans (SPEC 1.4): pore phase, crops resized to the dataset's size, solver labels of the
# crops and their nearest-neighbour estimate in the latent space (rule estimate_scan).

STAGE_TARGETS["imports"] = expand(
    [SCAN_STRUCTURES, f"{RESULTS}/imports/{{scan}}.png", f"{ESTIMATE_DIR}/{{scan}}.csv"],
    scan=SCANS,
)


wildcard_constraints:
    scan="|".join(SCANS) or "none",


# imports.<scan>.synthetic: a spinodoid foam rendered as gray values (dark pores, blur, noise)
rule synthetic_scan:
    output:
        gray=SCAN_GRAY,
    log:
        f"{LOGS}/imports/{{scan}}-synthetic.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    resources:
        mem_mb=JOBS.mem_mb("synthetic_scan"),
        runtime=JOBS.runtime("synthetic_scan"),
    params:
        foam=get_synthetic_options,
    script:
        "../scripts/synthetic_scan.py"


rule import_scan:
    input:
        gray=get_synthetic_scan,
    output:
        structures=directory(SCAN_STRUCTURES),
        figure=report(
            f"{RESULTS}/imports/{{scan}}.png",
            caption="../report/import_scan.rst",
            category="6 Scans",
            subcategory="{scan}",
        ),
    log:
        f"{LOGS}/imports/{{scan}}.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: 2
    resources:
        mem_mb=JOBS.mem_mb("import_scan"),
        runtime=JOBS.runtime("import_scan"),
    params:
        scan=get_scan_options,
        size=config["dataset"]["size"],
        generator=config["generator"],
        seed=config["seed"],
    script:
        "../scripts/import_scan.py"


rule simulate_scan:
    input:
        structures=SCAN_STRUCTURES,
    output:
        transport=directory(SCAN_TRANSPORT),
    log:
        f"{LOGS}/imports/{{scan}}-simulate.log",
    conda:
        f"{ENVS}/poredesign.yaml"
    threads: lbm_threads()
    resources:
        gpu=JOBS.gpu("simulate_scan"),
        mem_mb=JOBS.mem_mb("simulate_scan"),
        runtime=JOBS.runtime("simulate_scan"),
    params:
        transport=scan_transport(),
        device=config["device"],
        solver=SOLVER_FINGERPRINT,
    script:
        "../scripts/simulate_shard.py"
