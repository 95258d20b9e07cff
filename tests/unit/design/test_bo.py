"""Bayesian optimisation of Voronoi parameters [Z23] (SPEC 4.2): monotone convergence, resuming
from SQLite, bounds beyond the training ranges, both candidate seeds, and the stage's outputs.

Small: 16^3 structures rasterised at 24^3; a mock encoder (fixed random projection of the 4^3
block means) except for one run through an untrained tiny VAE.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import optuna
import pytest
import torch

from poredesign.design.bo import (
    BOSeeds,
    build,
    plot_convergence,
    read_result,
    run_bo,
    search_bounds,
    target_params,
    write_result,
    write_summary,
)
from poredesign.structures.voronoi import VoronoiSampler

SAMPLER = VoronoiSampler(size=16, generation_size=24, n_points_range=(10, 40), radius=1.5)
TARGET = {"radius": 1.5, "n_points": 25, "stretch": [1.0, 0.75, 1.0]}
BOUNDS = {"radius": [1.0, 3.0], "n_points": [24, 60], "stretch": [0.4, 1.0]}
PROJECTION = np.random.default_rng(0).standard_normal((64, 6))


def mock_encode(solids: np.ndarray) -> np.ndarray:
    """(B, 16, 16, 16) bool -> (B, 6): fixed random projection of the 4^3 block solid fractions."""
    blocks = np.asarray(solids, float).reshape(len(solids), 4, 4, 4, 4, 4, 4).mean(axis=(2, 4, 6))
    return blocks.reshape(len(solids), -1) @ PROJECTION


def bo(tmp_path, target=TARGET, **kw):
    args = dict(name="A", seed=3, db=tmp_path / "bo.db", bounds=BOUNDS, n_trials=8)
    args.update(n_startup_trials=3, repeats=2, candidate_seed="fresh")
    args.update(kw)
    return run_bo(mock_encode, SAMPLER, target, **args)


def stored(db, study="A-repeat00"):
    trials = optuna.load_study(study_name=study, storage=f"sqlite:///{db}").get_trials()
    return [(t.number, t.state, t.params, t.value) for t in trials]


@pytest.mark.slow
def test_best_distance_never_increases_and_bo_json_holds_the_record(tmp_path):
    res = bo(tmp_path, repeats=3, n_trials=6)
    assert res["true_params"] == {
        "radius": 1.5,
        "n_points": 25,
        "e_x": 1.0,
        "e_y": 0.75,
        "e_z": 1.0,
    }
    assert res["sampler"]["acquisition"] == "log expected improvement (logEI)"
    assert "Matern 5/2" in res["sampler"]["kernel"] and res["candidate_seed"] == "fresh"
    bests = []
    for rep in res["repeats"]:
        assert rep["n_trials"] == 6 and rep["n_failed"] == 0 and len(rep["best_so_far"]) == 6
        curve = np.array(rep["best_so_far"])
        assert np.all(np.diff(curve) <= 0)
        np.testing.assert_allclose(curve, np.minimum.accumulate(rep["distances"]))
        assert rep["best_distance"] == pytest.approx(curve[-1])
        bests.append(rep["best_distance"])
    assert len({r["sampler_seed"] for r in res["repeats"]}) == 3  # distinct sampler seeds
    assert len({r["best_distance"] for r in res["repeats"]}) == 3
    assert res["best"]["best_distance"] == min(bests)
    assert res["median"]["best_distance"] == sorted(bests)[1]
    med = res["repeats"][res["median"]["repeat"]]
    assert res["median"]["error"]["n_points"] == med["best_params"]["n_points"] - 25

    write_result(res, tmp_path / "bo.json")
    assert read_result(tmp_path / "bo.json")["best"] == json.loads(json.dumps(res["best"]))
    plot_convergence(res, tmp_path / "convergence.png")
    assert (tmp_path / "convergence.png").read_bytes()[:4] == b"\x89PNG"


def test_the_best_trial_reproduces_its_distance(tmp_path):
    res = bo(tmp_path, repeats=1)
    rep = res["repeats"][0]
    seeds = BOSeeds(3, "A")
    target, _ = build(SAMPLER, res["true_params"], seeds.target())
    solid, porosity = build(
        SAMPLER, rep["best_params"], seeds.candidate(0, rep["best_trial"], "fresh")
    )
    distance = np.linalg.norm(mock_encode(solid[None]) - mock_encode(target[None]))
    assert distance == pytest.approx(rep["best_distance"], rel=1e-12)
    assert porosity == pytest.approx(rep["best_porosity"]) and 0 < porosity < 1


@pytest.mark.slow
def test_a_resumed_study_continues_from_its_storage(tmp_path):
    first = bo(tmp_path, n_trials=5, repeats=1)
    before = stored(tmp_path / "bo.db")
    assert len(before) == 5 and first["repeats"][0]["n_trials"] == 5
    # a killed job leaves a RUNNING trial behind: it is failed on resume, not counted
    study = optuna.load_study(study_name="A-repeat00", storage=f"sqlite:///{tmp_path / 'bo.db'}")
    study.ask()
    res = bo(tmp_path, n_trials=8, repeats=1)
    after = stored(tmp_path / "bo.db")
    assert after[:5] == before  # the first five unchanged
    assert after[5][1] == optuna.trial.TrialState.FAIL  # the interrupted one
    complete = [t for t in after if t[1] == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 8 and res["repeats"][0]["n_trials"] == 8
    assert res["repeats"][0]["distances"][:5] == first["repeats"][0]["distances"]
    # already complete: a third call adds nothing
    bo(tmp_path, n_trials=8, repeats=1)
    assert len(stored(tmp_path / "bo.db")) == 9


@pytest.mark.slow
def test_a_storage_for_another_target_or_encoder_is_moved_aside(tmp_path, caplog):
    bo(tmp_path, n_trials=3, repeats=1)
    res = bo(tmp_path, n_trials=4, repeats=1, target={**TARGET, "radius": 2.0})
    assert res["repeats"][0]["n_trials"] == 4  # started afresh, not resumed from 3 trials
    assert len(stored(tmp_path / "bo.db")) == 4
    assert len(list(tmp_path.glob("bo.db.stale-*"))) == 1 and "starts afresh" in caplog.text
    caplog.clear()
    res = run_bo(
        lambda s: 2 * mock_encode(s) + 1, SAMPLER, {**TARGET, "radius": 2.0}, name="A", seed=3,
        db=tmp_path / "bo.db", bounds=BOUNDS, n_trials=4, n_startup_trials=3, repeats=1,
    )  # fmt: skip
    assert "another model" in caplog.text and len(stored(tmp_path / "bo.db")) == 4


@pytest.mark.slow
def test_bounds_beyond_the_training_ranges_are_honoured(tmp_path):
    # every bound outside the training ranges (n 10..40, r 1.5, e 0.5..1)
    bounds = {"radius": [1.8, 2.6], "n_points": [44, 52], "stretch": [0.3, 0.45]}
    target = {"radius": 2.2, "n_points": 48, "stretch": [0.4, 0.35, 0.42]}
    res = bo(tmp_path, bounds=bounds, target=target, n_trials=7, repeats=1)
    assert res["target_outside_training"] == ["radius", "n_points", "e_x", "e_y", "e_z"]
    assert res["target_outside_bounds"] == []
    assert res["bounds"]["n_points"] == [44, 52]
    params = [t[2] for t in stored(tmp_path / "bo.db")]
    assert len(params) == 7
    for p in params:
        assert 1.8 <= p["radius"] <= 2.6 and 44 <= p["n_points"] <= 52
        assert isinstance(p["n_points"], int)
        assert all(0.3 <= p[k] <= 0.45 for k in ("e_x", "e_y", "e_z"))


def test_candidate_seed_target_reproduces_the_target_and_both_choices_are_recorded(tmp_path):
    seeds = BOSeeds(3, "A")
    true = target_params(TARGET)
    target, _ = build(SAMPLER, true, seeds.target())
    same, _ = build(SAMPLER, true, seeds.candidate(1, 17, "target"))
    fresh, _ = build(SAMPLER, true, seeds.candidate(1, 17, "fresh"))
    assert np.array_equal(same, target) and not np.array_equal(fresh, target)
    for choice in ("target", "fresh"):
        res = bo(tmp_path / choice, candidate_seed=choice, repeats=1, n_trials=5)
        write_result(res, tmp_path / choice / "bo.json")
        saved = read_result(tmp_path / choice / "bo.json")
        assert saved["candidate_seed"] == choice
        assert saved["sampler"]["deterministic_objective"] == (choice == "target")
    with pytest.raises(ValueError, match="candidate_seed"):
        bo(tmp_path / "x", candidate_seed="mine")


class Refusing(VoronoiSampler):
    """Refuses structures with fewer than 40 seeds, as the generator refuses too few seeds."""

    def build(self, params, rng):
        if params[0] < 40:
            raise ValueError(f"{int(params[0])} seeds are too few")
        return super().build(params, rng)


def test_structures_the_generator_refuses_are_counted_and_reported(tmp_path):
    sampler = Refusing(size=16, generation_size=24, n_points_range=(10, 40), radius=1.5)
    target = {**TARGET, "n_points": 45}
    res = run_bo(
        mock_encode, sampler, target, name="A", seed=3, db=tmp_path / "bo.db", bounds=BOUNDS,
        n_trials=6, n_startup_trials=3, repeats=1,
    )  # fmt: skip
    trials = optuna.load_study(
        study_name="A-repeat00", storage=f"sqlite:///{tmp_path / 'bo.db'}"
    ).get_trials()
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    rep = res["repeats"][0]
    assert len(trials) == 6 and rep["n_trials"] == 6 and rep["n_failed"] == len(failed) > 0
    assert all("too few" in t.user_attrs["error"] for t in failed)
    assert all(t.params["n_points"] < 40 for t in failed)
    assert [d is None for d in rep["distances"]] == [t in failed for t in trials]
    assert rep["best_params"]["n_points"] >= 40
    # nothing but refusals: a clear error
    with pytest.raises(ValueError, match="no BO repeat completed"):
        run_bo(
            mock_encode, sampler, target, name="A", seed=3, db=tmp_path / "b2.db",
            bounds={**BOUNDS, "n_points": [24, 30]}, n_trials=3, n_startup_trials=3, repeats=1,
        )  # fmt: skip


def test_seeds_and_bounds_are_checked():
    a, b = BOSeeds(3, "A"), BOSeeds(3, "B")
    assert a.target().random() == BOSeeds(3, "A").target().random() != b.target().random()
    assert a.sampler(0) != a.sampler(1) and a.sampler(0, 5) != a.sampler(0)
    box = search_bounds({"stretch": [0.5, 0.9]})
    assert box["e_z"] == (0.5, 0.9) and box["n_points"] == (20, 250) and box["radius"] == (2.0, 6.0)
    with pytest.raises(ValueError, match="bounds.radius"):
        search_bounds({"radius": [3.0, 2.0]})
    with pytest.raises(ValueError, match="'Z'"):
        target_params({"radius": 3.4}, "Z")


@pytest.mark.slow
def test_summary_table_lists_true_median_and_best_per_target_in_order(tmp_path):
    paths = []
    for name in ("A", "B"):
        res = bo(tmp_path / name, name=name, n_trials=4, repeats=2)
        paths.append(tmp_path / name / "bo.json")
        write_result(res, paths[-1])
    rows = write_summary(paths[::-1], ["A", "B"], tmp_path / "summary.csv")
    with open(tmp_path / "summary.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["target"], r["row"]) for r in table] == [
        (t, w) for t in "AB" for w in ("true", "median", "best")
    ]
    assert float(table[0]["radius"]) == 1.5 and int(table[0]["n_points"]) == 25
    assert float(table[2]["distance"]) <= float(table[1]["distance"])
    assert len(rows) == 6
    with pytest.raises(ValueError, match="'C'"):
        write_summary(paths, ["A", "C"], tmp_path / "x.csv")


def test_an_untrained_tiny_vae_encodes_the_candidates(tmp_path):
    from poredesign.learn.vae import VAE3D

    torch.manual_seed(0)
    vae = VAE3D(16, channels=(2, 4), hidden=16, latent_dim=8).eval()
    res = run_bo(
        lambda s: vae.latent_means(s, batch_size=1), SAMPLER, TARGET, name="A", seed=3,
        db=tmp_path / "bo.db", bounds=BOUNDS, n_trials=5, n_startup_trials=3, repeats=1,
    )  # fmt: skip
    assert res["latent_dim"] == 8
    rep = res["repeats"][0]
    assert rep["n_trials"] == 5 and np.all(np.diff(rep["best_so_far"]) <= 0)
    seeds = BOSeeds(3, "A")
    target, _ = build(SAMPLER, res["true_params"], seeds.target())
    solid, _ = build(SAMPLER, rep["best_params"], seeds.candidate(0, rep["best_trial"], "fresh"))
    mu = vae.latent_means(np.stack([solid, target]))
    assert np.linalg.norm(mu[0] - mu[1]) == pytest.approx(rep["best_distance"], rel=1e-5)
