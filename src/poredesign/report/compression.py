"""The compression section of a foam study's summary ([A25]'s foam at several strain levels):
the permeability tensor per level, the latent PCA's strain separation and correlations, and the
slerp solved for the tensor, each beside [A25]'s finding and the baseline measured from the crops
themselves (:mod:`poredesign.characterise.compression` writes the numbers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from poredesign.report.markdown import fmt

#: [A25]'s foam findings as its text states them (SPEC 1.4); no numbers of its Figure 20 are given
A25_FOAM = {
    "tensor": "depends on the strain; slightly anisotropic (off-diagonal terms neglected)",
    "clusters": "three clusters: 0 %, 15-35 %, 50 %",
    "k": "PC1 strongly positive with k",
    "porosity": "PC2 strongly negative with porosity",
    "curve": "k rises sharply past a critical porosity",
    "slerp": "100 steps, k and porosity change gradually along the real crops' k-porosity curve",
}
#: the goal for a PC's correlation with k_z and with porosity
R_GOAL = 0.7


def _mean_std(entry: Mapping[str, Any]) -> str:
    return f"{fmt(entry['mean'])} +- {fmt(entry['std'])}"


def _tensor_lines(found: Mapping[str, Any]) -> list[str]:
    lines = [
        "| strain | crops | porosity | k_x | k_y | k_z | k_z / mean(k_x, k_y) |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in found["tensor"]:
        lines.append(
            f"| {100 * e['strain']:.0f} % | {e['n']} | {_mean_std(e['porosity'])} | "
            + " | ".join(_mean_std(e[f"k_{a}"]) for a in "xyz")
            + f" | {fmt(e['anisotropy'])} |"
        )
    tensor = found["tensor"]
    falls = {
        name: all(
            (b[name]["mean"] or 0) < (a[name]["mean"] or 0)
            for a, b in zip(tensor, tensor[1:], strict=False)
        )
        for name in ("porosity", "k_x", "k_y", "k_z")
    }
    n = found["n"]
    finite = ", ".join(f"{k} {v} / {n}" for k, v in found["k_finite"].items())
    lines += [
        "",
        f"k finite: {finite}. "
        "Mean porosity falls with every strain step: "
        f"{'yes' if falls['porosity'] else 'no'}; mean k_x, k_y, k_z fall with every step: "
        + ", ".join("yes" if falls[f"k_{a}"] else "no" for a in "xyz")
        + f". [A25]: the tensor {A25_FOAM['tensor']}.",
        "",
    ]
    return lines


def _latent_lines(found: Mapping[str, Any]) -> list[str]:
    pca, sep, base = found["pca"], found["separation"], found["baseline"]
    best = pca["best"]

    def acc(entry: Mapping[str, Any]) -> str:
        return (
            f"{fmt(entry['accuracy'])} (chance {fmt(entry['chance'])}, majority "
            f"{fmt(entry['majority'])})"
        )

    lines = [
        "| finding | this study | baseline (the crops' own porosity and k) | [A25] |",
        "|---|---|---|---|",
        f"| strain levels, NN accuracy in PC1-PC2 | {acc(sep['levels']['latent'])} | "
        f"{acc(sep['levels']['baseline'])} in (porosity, log k_z) | {A25_FOAM['clusters']} |",
        f"| [A25]'s 3 clusters, NN accuracy in PC1-PC2 | {acc(sep['paper_clusters']['latent'])} | "
        f"{acc(sep['paper_clusters']['baseline'])} | {A25_FOAM['clusters']} |",
        f"| PC with the largest r against k_z | PC{best['k_z']['pc']}: r = "
        f"{fmt(best['k_z']['r'])} | r(porosity, k_z) = {fmt(base['r_porosity_k_z'])} | "
        f"{A25_FOAM['k']} |",
        f"| PC with the largest r against porosity | PC{best['porosity']['pc']}: r = "
        f"{fmt(best['porosity']['r'])} | r(porosity, log k_z) = "
        f"{fmt(base['r_porosity_log_k_z'])} | {A25_FOAM['porosity']} |",
        "",
    ]
    met = {p: abs(best[p]["r"]) >= R_GOAL for p in ("k_z", "porosity")}
    lines += [
        f"Goal |r| >= {R_GOAL}: against k_z {'met' if met['k_z'] else 'not met'}, against "
        f"porosity {'met' if met['porosity'] else 'not met'} (PCA fitted on the "
        f"{pca['n_train']} training crops, every crop projected). Correlations of the first "
        f"{len(pca['correlations'])} PCs:",
        "",
        "| PC | explained variance | " + " | ".join(pca["properties"]) + " |",
        "|---|---|" + "---|" * len(pca["properties"]),
    ]
    for j, row in enumerate(pca["correlations"]):
        lines.append(
            f"| PC{j + 1} | {fmt(pca['explained_variance_ratio'][j])} | "
            + " | ".join(fmt(r) for r in row)
            + " |"
        )
    return [*lines, ""]


def _slerp_lines(found: Mapping[str, Any]) -> list[str]:
    slerp = found["slerp"]
    ends = slerp["endpoint_labels"]
    mono = slerp["monotone"]
    lines = [
        f"Slerp from crop {slerp['endpoints'][0]} (strain {100 * ends[0]['strain']:.0f} %, "
        f"porosity {fmt(ends[0]['porosity'])}) to crop {slerp['endpoints'][1]} (strain "
        f"{100 * ends[1]['strain']:.0f} %, porosity {fmt(ends[1]['porosity'])}), "
        f"{slerp['steps']} steps, each decoded, binarised and solved along x, y and z. "
        f"[A25]: {A25_FOAM['slerp']}.",
        "",
        "| along the path | Spearman rho with the step | steps against the trend | monotone |",
        "|---|---|---|---|",
    ]
    for name, m in mono.items():
        lines.append(
            f"| {name} | {fmt(m['rho'])} | {fmt(m['reversals'])} of {m['n'] - 1} | "
            f"{'yes' if m['monotone'] else 'no'} |"
        )
    return [*lines, ""]


def compression_lines(found: Mapping[str, Any]) -> list[str]:
    """The summary's compression section (figures: compression/latent.png, properties.png)."""
    return [
        "## Compression levels",
        "",
        "Crops of the foam compressed along z at each strain (lateral faces constrained, solid "
        "volume conserved: an affine squeeze; porosity 1 - (1 - porosity_0) / (1 - strain)), "
        "labelled by the solver with the diagonal tensor (voxel^2 of the stored crops). [A25]'s "
        "scans are of a real foam; these are a model of them.",
        "",
        *_tensor_lines(found),
        "### Latent space against strain",
        "",
        *_latent_lines(found),
        "### Slerp solved for the tensor",
        "",
        *_slerp_lines(found),
        f"[A25]: {A25_FOAM['curve']}. Figures: compression/latent.png (PCA by strain beside the "
        "baseline, correlations) and compression/properties.png (porosity against k_x, k_y, k_z "
        f"with the slerp path; the tensor along it). Findings in {fmt(found['seconds'], 3)} s.",
        "",
    ]


__all__ = ["compression_lines"]
