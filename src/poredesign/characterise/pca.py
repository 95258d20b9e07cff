"""Principal component analysis of VAE latent means [Z23] (SPEC 4.3), in numpy.

The PCA is fitted on the latent means mu of the *training* structures only (the VAE's own training
split), so validation, test, imported and other studies' structures are projected into a space that
never saw them. It is the singular value decomposition of the centred training matrix:

    X - mean = U S V^T,   components = V^T,   scores = (X - mean) V,

keeping every component up to min(n_train, d) (d = latent width), so the projection can be
reconstructed and a later stage can choose how many components to use. Choices the paper leaves
open, written down here:

- explained variance = S^2 / (n_train - 1) (the sample variance along each component); the ratio
  is S^2 / sum(S^2), the share of the total training variance, so the ratios sum to 1 (to rounding)
  and decrease;
- signs: SVD fixes a component only up to its sign; each component is flipped so that its
  loading of largest magnitude is positive (as scikit-learn's ``svd_flip`` does), which makes the
  fit deterministic for a given training matrix;
- the *porosity PC* is, among the first ``candidates`` (5) components, the one whose training
  scores have the largest |Pearson correlation| with porosity (the paper finds PC3; which one it is
  depends on the trained VAE, so it is found, not assumed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pca:
    """A fitted PCA: ``mean`` (d,), ``components`` (k, d) orthonormal rows, ``explained_variance``
    (k,) in latent units squared, ``explained_variance_ratio`` (k,) dimensionless."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    def transform(self, mu: np.ndarray) -> np.ndarray:
        """PC scores (n, k) of latent means ``mu`` (n, d)."""
        mu = np.asarray(mu, dtype=np.float64)
        if mu.ndim != 2 or mu.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"latent means of shape {mu.shape} cannot be projected into a PCA of "
                f"{self.mean.shape[0]}-dimensional latent means"
            )
        return (mu - self.mean) @ self.components.T

    def inverse_transform(self, scores: np.ndarray) -> np.ndarray:
        """Latent means (n, d) back from PC scores (n, k') with k' <= k leading components."""
        scores = np.asarray(scores, dtype=np.float64)
        return self.mean + scores @ self.components[: scores.shape[1]]


def fit_pca(mu: np.ndarray) -> Pca:
    """PCA of training latent means ``mu`` (n_train, d) by numpy SVD (module docstring)."""
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim != 2 or mu.shape[0] < 2:
        raise ValueError(
            f"PCA needs at least two training latent means as an (n, d) array; got shape {mu.shape}"
        )
    if not np.all(np.isfinite(mu)):
        raise ValueError("PCA: the training latent means hold NaN or inf values")
    mean = mu.mean(axis=0)
    _, s, vt = np.linalg.svd(mu - mean, full_matrices=False)
    # deterministic signs: the largest-magnitude loading of each component is positive
    pivot = np.argmax(np.abs(vt), axis=1)
    vt = vt * np.sign(vt[np.arange(len(vt)), pivot])[:, None]
    power = s**2
    total = power.sum()
    ratio = power / total if total > 0 else np.zeros_like(power)
    return Pca(mean, vt, power / (mu.shape[0] - 1), ratio)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two 1-d samples over the entries finite in both; NaN when fewer
    than three such entries remain or either is constant there."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan")
    x, y = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    norm = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / norm) if norm > 0 else float("nan")


def component_correlations(scores: np.ndarray, values: np.ndarray, n: int = 3) -> list[float]:
    """Pearson correlation of each of the first ``n`` PC scores with ``values`` (NaN when
    undefined, e.g. constant values; fewer entries when there are fewer components)."""
    scores = np.asarray(scores, dtype=np.float64)
    return [pearson(scores[:, j], values) for j in range(min(n, scores.shape[1]))]


def porosity_component(scores: np.ndarray, porosity: np.ndarray, candidates: int = 5) -> int:
    """Index (0-based) of the porosity PC: among the first ``candidates`` components, the one
    whose scores have the largest absolute Pearson correlation with ``porosity`` (undefined
    correlations count as 0, so a constant porosity gives PC1)."""
    r = np.abs(np.nan_to_num(component_correlations(scores, porosity, candidates), nan=0.0))
    if len(r) == 0:
        raise ValueError("porosity_component: the PCA has no components")
    return int(np.argmax(r))
