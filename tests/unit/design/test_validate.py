"""Validation of a designed parameter vector (the design stage's check by the solver)."""

import json

import numpy as np
import pytest

from poredesign.design.abc.validate import (
    posterior_mean,
    upscaled_theta,
    validate_design,
    validation_structure,
)
from poredesign.structures import porosity
from poredesign.transport.diffusion import diffusivity


def test_validation_refuses_an_abc_run_without_a_generation(tmp_path):
    path = tmp_path / "abc.json"
    path.write_text(
        json.dumps(
            {
                "param_names": ["a_x", "porosity"],
                "theta_hat": {"a_x": None, "porosity": None},
                "target_vector": [0.95, 0.95, 0.95],
                "message": "acceptance rate too low",
            }
        )
    )
    with pytest.raises(RuntimeError, match="no generation.*acceptance rate too low"):
        posterior_mean(path)
    path.write_text(
        json.dumps(
            {
                "param_names": ["a_x", "porosity"],
                "theta_hat": {"a_x": 0.1, "porosity": 0.5},
                "target_vector": [0.4, 0.5, 0.6],
                "message": "",
            }
        )
    )
    theta, target = posterior_mean(path)
    assert theta.tolist() == [0.1, 0.5] and target.tolist() == [0.4, 0.5, 0.6]


def test_validate_design_measures_fresh_structures_with_solver_and_surrogate():
    theta = [0.1, 0.15, 0.2, 0.6]
    result = validate_design(
        theta, 20, 2, seed=3, predict_structures=lambda solid: np.full((len(solid), 3), 0.5)
    )
    solid = validation_structure(theta, 20, 3, 1)
    assert porosity(solid) == pytest.approx(0.6, abs=1e-3)
    assert result.eta_solver[1].tolist() == pytest.approx(
        [diffusivity(solid, a).eta for a in range(3)]
    )
    summary = result.summary([0.4, 0.5, 0.6])
    mean = result.eta_solver.mean(axis=0)
    assert summary["mape_solver_percent"] == pytest.approx(
        100 * np.mean(np.abs(mean - [0.4, 0.5, 0.6]) / [0.4, 0.5, 0.6])
    )
    assert summary["eta_surrogate_mean"] == pytest.approx([0.5, 0.5, 0.5])
    assert summary["mape_surrogate_percent"] == pytest.approx(100 * (0.1 / 0.4 + 0 + 0.1 / 0.6) / 3)
    # validation structures are new: not the dataset's structure 1 of the same seed
    from poredesign.structures import spinodoid, structure_rng

    dataset_like = spinodoid(20, theta[:3], theta[3], seed=structure_rng(3, 1))
    assert not np.array_equal(solid, dataset_like)


def test_upscaled_theta_keeps_the_voxel_feature_size():
    assert upscaled_theta([0.3, 0.15, 0.09, 0.5], 3).tolist() == pytest.approx(
        [0.1, 0.05, 0.03, 0.5]
    )
