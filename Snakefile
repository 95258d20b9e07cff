# poredesign: inverse design of porous microstructures.
# Stages: generate -> simulate -> train -> design -> validate -> report (see README.md).
from poredesign.config import validate_workflow_config

# the default study, unless --configfile names a study: a study file is complete on its own and
# must not inherit the default's reduced settings (snakemake would deep-merge both)
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# one line per problem, no traceback unless --verbose or POREDESIGN_DEBUG=1
validate_workflow_config(
    config,
    workflow.configfiles,
    verbose=getattr(workflow.output_settings, "verbose", False),
)


report: "workflow/report/workflow.rst"


wildcard_constraints:
    shard=r"\d{4}",


include: "workflow/rules/common.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/characterise.smk"
include: "workflow/rules/bo.smk"
include: "workflow/rules/transfer.smk"
include: "workflow/rules/imports.smk"
include: "workflow/rules/design.smk"
include: "workflow/rules/gradient.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        stage_targets(),
