"""Surrogate spread (calibrated on held-out data) and the solver-in-the-loop refinement loop,
on toys whose truth is known: a regression with known noise, and a deliberately biased
surrogate of an analytic function."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from poredesign.design.abc import AbcSettings, BoxPrior, run_abc
from poredesign.design.refine import (
    LabelledRound,
    RefineSettings,
    RoundZero,
    Validation,
    floored_schedule,
    noise_floor,
    refine,
)
from poredesign.learn.uncertainty import NOMINAL_COVERAGE, LogitSpread, coverage

# ------------------------------------------------------------------------------------------------
# predictive spread


def test_spread_intervals_cover_the_nominal_fraction_on_a_toy_with_known_noise():
    """A least-squares fit of logit(eta) on x, noise 0.1 / 0.2 / 0.4 on the logit scale per axis:
    sigma fitted on held-out views recovers the noise, and the 1- and 2-sigma intervals of new
    views hold about 68.3 % and 95.4 % of them."""
    rng = np.random.default_rng(3)
    noise = np.array([0.1, 0.2, 0.4])

    def draw(n):
        x = rng.uniform(-1, 1, n)
        axis = rng.integers(0, 3, n)
        y = 0.3 + 1.5 * x + noise[axis] * rng.standard_normal(n)
        return x, axis, expit(y)

    x_train, _, eta_train = draw(400)
    coef = np.polyfit(x_train, np.log(eta_train / (1 - eta_train)), 1)  # the toy regression

    def predict(x):
        return expit(np.polyval(coef, x))

    x_val, axis_val, eta_val = draw(3000)
    spread = LogitSpread.fit(predict(x_val), eta_val, axis_val)
    assert spread.sigma == pytest.approx(noise, rel=0.06)
    x_test, axis_test, eta_test = draw(6000)
    report = coverage(predict(x_test), eta_test, axis_test, spread)
    assert report["inside_1sigma"] == pytest.approx(NOMINAL_COVERAGE[1], abs=0.025)
    assert report["inside_2sigma"] == pytest.approx(NOMINAL_COVERAGE[2], abs=0.012)
    for a in range(3):
        assert report["inside_1sigma_per_axis"][a] == pytest.approx(NOMINAL_COVERAGE[1], abs=0.04)
    # a spread half as wide covers far less: the check can fail
    narrow = LogitSpread(spread.sigma / 2, spread.n)
    assert coverage(predict(x_test), eta_test, axis_test, narrow)["inside_1sigma"] < 0.45
    low, high = spread.interval(np.array([0.5, 0.5, 0.5]), 2.0)
    assert np.all((low > 0) & (low < 0.5) & (high > 0.5) & (high < 1))


def test_noise_floor_and_floored_schedule():
    # a particle at the right parameters, 2 % relative spread on every axis: E|z| sqrt(2/pi)
    floor = noise_floor([0.006, 0.008, 0.0], [0.008, 0.006, 0.01], [0.5, 0.5, 0.5])
    assert floor == pytest.approx(100 * np.sqrt(2 / np.pi) * 0.02)
    assert floored_schedule([10, 6, 4, 2], 3.0) == [10, 6, 4, 3.0]
    assert floored_schedule([10, 6, 4, 2], 7.0) == [10, 7.0]
    assert floored_schedule([10, 6], None) == [10, 6]


# ------------------------------------------------------------------------------------------------
# refinement on an analytic toy

NAMES = ["u", "v", "w"]
PRIOR = BoxPrior({name: (0.0, 1.0) for name in NAMES})
TARGET = np.array([0.4, 0.5, 0.6])
SCATTER = 0.004  # "structure-to-structure" scatter of eta, absolute


def truth(theta):
    """The 'solver': eta = 0.2 + 0.5 theta per axis (the target sits at theta = 0.4, 0.6, 0.8)."""
    return 0.2 + 0.5 * np.asarray(theta, float)


def bias(theta):
    """The surrogate's error before refinement: about +9 % to +14 % near the target."""
    return 0.03 + 0.04 * np.asarray(theta, float)


class ToyProblem:
    """A biased surrogate (truth + bias + correction); fine-tuning sets the correction to minus
    the mean error on the labels of the last round (a local, constant fit)."""

    def __init__(self, seed=0, fail_in_round=None):
        self.correction = np.zeros(3)
        self.rng = np.random.default_rng(seed)
        self.labelled_rounds = []
        self.fail_in_round = fail_in_round

    def surrogate(self, theta):
        return truth(theta) + bias(theta) + self.correction

    def noisy(self, eta, rng):
        return eta + SCATTER * rng.standard_normal(eta.shape)

    def label(self, thetas, round_index, round_dir):
        if round_index == self.fail_in_round:
            raise RuntimeError("the solver crashed")
        self.labelled_rounds.append(round_index)
        rng = np.random.default_rng([11, round_index])
        scatter = SCATTER * rng.standard_normal((len(thetas), 3))
        true = truth(thetas) + scatter
        np.savez(round_dir / "labels.npz", thetas=thetas, true=true, scatter=scatter)
        return LabelledRound(true=true, pred=self.surrogate(thetas) + scatter)

    def fine_tune(self, round_dirs, round_index):
        last = np.load(Path(round_dirs[-1]) / "labels.npz")
        pred = self.surrogate(last["thetas"]) + last["scatter"]
        self.correction = self.correction - np.mean(pred - last["true"], axis=0)

    def save(self, round_dir):
        (round_dir / "surrogate.json").write_text(json.dumps(self.correction.tolist()))

    def load(self, round_dir):
        self.correction = np.array(json.loads((round_dir / "surrogate.json").read_text()))

    def model(self, round_index):
        rng = np.random.default_rng([12, round_index])
        return lambda theta: self.noisy(self.surrogate(theta), rng)

    def validate(self, theta):
        rng = np.random.default_rng(13)  # the same validation structures every round
        theta = np.tile(theta, (64, 1))
        scatter = SCATTER * rng.standard_normal((64, 3))
        return Validation(truth(theta) + scatter, self.surrogate(theta) + scatter)


@pytest.fixture(scope="module")
def round_zero(tmp_path_factory):
    """ABC with the biased surrogate (the design stage) and the validation of its mean."""
    folder = tmp_path_factory.mktemp("design")
    problem = ToyProblem()
    result = run_abc(
        problem.model(0),
        TARGET,
        PRIOR,
        population=100,
        tolerances=[30.0, 10.0, 4.0],
        db_path=folder / "abc.db",
        seed=5,
        batch_size=1000,
    )
    assert result.converged
    return RoundZero(
        db_path=folder / "abc.db",
        theta_hat=result.theta_hat,
        theta_std=result.theta_std,
        validation=problem.validate(result.theta_hat),
        abc={"status": result.status, "model_evaluations": result.model_evaluations},
    )


SETTINGS = dict(
    samples=24,
    epochs=1,
    lr=1e-3,
    abc_tolerances=[10.0, 4.0, 2.0],
    population=100,
    spread_aware=True,
)
ABC = AbcSettings(batch_size=1000, min_acceptance_rate=0.001)


def test_refinement_removes_the_bias_and_stops_at_the_tolerance(round_zero, tmp_path):
    problem = ToyProblem()
    settings = RefineSettings(rounds=6, tolerance=1.0, **SETTINGS)
    record = refine(problem, TARGET, round_zero, PRIOR, tmp_path, settings, ABC, seed=1)
    mapes = [r["validation"]["mape_solver_percent"] for r in record["rounds"]]
    # the biased surrogate's design misses by about its bias; refinement brings it under 1 %
    assert mapes[0] > 8.0
    assert record["reached_tolerance"] and record["stop"] == "tolerance"
    assert mapes[-1] < 1.0 and all(m >= 1.0 for m in mapes[:-1])  # stops at the first success
    assert 1 <= record["rounds_run"] <= 3 < settings.rounds
    # the surrogate's error on the new labels (before fine-tuning) falls after the first round
    errors = [r["surrogate_error"]["mape_percent"] for r in record["rounds"][1:]]
    assert errors[0] > 8.0
    assert all(e < 2.0 for e in errors[1:])
    # the posterior mean moves to the true solution theta* = (0.4, 0.6, 0.8)
    assert np.allclose(record["final"]["theta_hat"], [0.4, 0.6, 0.8], atol=0.03)
    final = record["final"]
    assert final["validation"]["mape_solver_se_percent"] < 0.25
    assert final["abc"]["noise_floor_percent"] > 0
    assert min(final["abc"]["tolerances"]) >= final["abc"]["noise_floor_percent"]
    assert problem.labelled_rounds == list(range(1, record["rounds_run"] + 1))


def test_rounds_stop_when_spent(round_zero, tmp_path):
    settings = RefineSettings(rounds=1, tolerance=1e-3, **SETTINGS)
    record = refine(ToyProblem(), TARGET, round_zero, PRIOR, tmp_path, settings, ABC, seed=1)
    assert record["rounds_run"] == 1 and record["stop"] == "rounds"
    assert not record["reached_tolerance"]


@pytest.mark.slow
def test_a_rerun_resumes_after_the_last_completed_round(round_zero, tmp_path):
    settings = RefineSettings(rounds=4, tolerance=1e-3, **SETTINGS)
    broken = ToyProblem(fail_in_round=3)
    with pytest.raises(RuntimeError, match="solver crashed"):
        refine(broken, TARGET, round_zero, PRIOR, tmp_path, settings, ABC, seed=1)
    assert broken.labelled_rounds == [1, 2]
    state = json.loads((tmp_path / "state.json").read_text())
    assert len(state["rounds"]) == 3  # round 0 and the two completed rounds

    again = ToyProblem()
    record = refine(again, TARGET, round_zero, PRIOR, tmp_path, settings, ABC, seed=1)
    assert again.labelled_rounds == [3, 4]  # rounds 1 and 2 were not redone
    assert record["rounds"][:3] == state["rounds"]
    # the same run from scratch gives the same rounds: resuming restored round 2's surrogate
    fresh = refine(
        ToyProblem(), TARGET, round_zero, PRIOR, tmp_path / "fresh", settings, ABC, seed=1
    )
    for a, b in zip(fresh["rounds"], record["rounds"], strict=True):
        assert a["theta_hat"] == pytest.approx(b["theta_hat"])

    # more rounds allowed: continues after round 4 instead of starting over
    longer = RefineSettings(rounds=5, tolerance=1e-3, **SETTINGS)
    more = ToyProblem()
    refine(more, TARGET, round_zero, PRIOR, tmp_path, longer, ABC, seed=1)
    assert more.labelled_rounds == [5]


# ------------------------------------------------------------------------------------------------
# the diffusivity CNN: spread in metrics.json, warm-start fine-tuning on a label store


@pytest.mark.usefixtures("torch_one_thread")
def test_cnn_spread_in_metrics_and_fine_tuning_on_new_labels(tmp_path):
    import torch
    from learn_stores import make_stores

    from poredesign.learn import DataConfig, PoreDataModule, load_model, predict
    from poredesign.learn.finetune import fine_tune, write_label_store
    from poredesign.learn.fit import TrainSettings
    from poredesign.learn.train import train
    from poredesign.store import StructureStore, open_group

    structures, transport = make_stores(tmp_path, n=20, size=16)
    out = tmp_path / "cnn"
    metrics = train(
        "diffusivity",
        structures,
        transport,
        out,
        model_kwargs={"channels": [4], "hidden": [8], "optimizer": "adam", "lr": 3e-3},
        data={"pool": False, "split": [0.6, 0.2, 0.2]},
        settings={"epochs": 2, "batch_size": 8, "seed": 1},
    )
    spread = metrics["spread"]
    assert len(spread["sigma_logit"]) == 3 and min(spread["sigma_logit"]) > 0
    assert spread["n"] == [4, 4, 4]  # 4 validation structures, one view per axis each
    calibration = spread["test_calibration"]
    assert calibration["n"] == 12 and 0 <= calibration["inside_1sigma"] <= 1
    assert calibration["inside_1sigma"] <= calibration["inside_2sigma"]
    assert json.loads((out / "model.json").read_text())["spread"]["sigma_logit"] == pytest.approx(
        spread["sigma_logit"]
    )

    # new labels: the first five structures relabelled 20 % lower (a shifted region)
    cnn = load_model(out / "model.pt")
    store = StructureStore(structures)
    solids = store[:5]
    eta = 0.8 * np.asarray(open_group(transport)["eta"][:5])
    write_label_store(
        tmp_path / "labels.zarr",
        solids,
        store.params[:5],
        store.param_names,
        eta,
        np.zeros((5, 3), np.int32),
        1 - solids.mean(axis=(1, 2, 3)),
    )
    before = predict(cnn, torch.as_tensor(solids)).numpy()
    weights = {k: v.clone() for k, v in cnn.state_dict().items()}
    data = PoreDataModule(structures, transport, DataConfig(**cnn.data_config), batch_size=8)
    tuned = fine_tune(
        cnn, data, [tmp_path / "labels.zarr"], 8, 3e-3, TrainSettings(device="cpu"), seed=2
    )
    after = predict(tuned, torch.as_tensor(solids)).numpy()
    assert any(not torch.equal(weights[k], v) for k, v in tuned.state_dict().items())
    # it moved towards the new labels
    assert np.mean(np.abs(after - eta)) < np.mean(np.abs(before - eta))


def test_parameter_correction_recovers_a_per_axis_logit_bias_linear_in_theta():
    from poredesign.design.refine.correction import ParameterCorrection

    rng = np.random.default_rng(4)
    theta = rng.uniform([0.1, 0.1, 0.2, 0.5], [0.15, 0.2, 0.3, 0.7], size=(96, 4))
    true = expit(rng.uniform(-1, 1, size=(96, 3)))
    # the surrogate is off by a per-axis offset plus a slope in porosity (logit scale), + noise
    shift = np.array([0.2, -0.3, 0.1]) + 2.0 * (theta[:, 3:4] - 0.6)
    pred = expit(np.log(true / (1 - true)) + shift + 0.02 * rng.standard_normal((96, 3)))
    correction = ParameterCorrection.fit(theta, pred, true, ridge=0.1)
    corrected = correction(theta, pred)
    assert np.max(np.abs(np.mean((corrected - true) / true, axis=0))) < 0.005
    assert np.mean(np.abs(corrected - true) / true) < 0.25 * np.mean(np.abs(pred - true) / true)
    # too few labels for slopes: the offsets alone
    offsets = ParameterCorrection.fit(theta[:8], pred[:8], true[:8])
    assert np.all(offsets.slope == 0) and offsets.offset == pytest.approx(
        np.mean(np.log(true[:8] / (1 - true[:8])) - np.log(pred[:8] / (1 - pred[:8])), axis=0)
    )
    assert ParameterCorrection.from_dict(correction.as_dict())(theta, pred) == pytest.approx(
        corrected
    )
    assert ParameterCorrection.none(4)(theta, pred) == pytest.approx(pred)


# ------------------------------------------------------------------------------------------------
# the rule's entry point: settings from the config, round 0 from the design stage's files


def test_the_rules_entry_point_passes_the_settings_through(tmp_path, monkeypatch):
    """refine_spinodoid_design with the default study's settings: round 0 read from abc.json and
    validation.json, the fine-tuning, model and prior settings handed to the problem, the loop
    given the settings objects (the CNN, its data and the loop itself stubbed)."""
    import poredesign.design.refine.spinodoid as spinodoid_refine
    import poredesign.learn as learn
    import poredesign.learn.fit as fit
    from poredesign.config import load_config
    from poredesign.jsonable import write_json
    from poredesign.learn.fit import TrainSettings

    config = load_config(Path(__file__).resolve().parents[3] / "config" / "config.yaml")
    names = ["a_x", "a_y", "a_z", "porosity"]
    write_json(
        tmp_path / "abc.json",
        {
            "param_names": names,
            "theta_hat": dict(zip(names, [0.1, 0.12, 0.14, 0.6], strict=True)),
            "theta_std": dict(zip(names, [0.01] * 4, strict=True)),
            "status": "converged",
            "final_epsilon": 1.5,
            "model_evaluations": 1000,
            "wall_time_s": 3.0,
        },
    )
    write_json(tmp_path / "validation.json", {"eta_solver": [[0.4, 0.5, 0.6]], "solver_seconds": 2})
    (tmp_path / "model.pt").write_bytes(b"weights")

    class FakeCnn:
        data_config = {"targets": ["eta"], "pool": True}

    seen = {}
    monkeypatch.setattr(learn, "load_model", lambda path, map_location=None: FakeCnn())
    monkeypatch.setattr(
        learn, "PoreDataModule", lambda *args, **kwargs: seen.setdefault("data", kwargs)
    )
    monkeypatch.setattr(fit, "store_identity", lambda path: str(path))

    def fake_refine(problem, target, start, prior, work_dir, settings, abc, seed, identity):
        seen.update(problem=problem, start=start, prior=prior, settings=settings, abc=abc)
        seen.update(identity=identity)
        return {"rounds": []}

    monkeypatch.setattr(spinodoid_refine, "refine", fake_refine)
    design, learn_section = config["design"], config["learn"]
    common = {k: v for k, v in learn_section.items() if not isinstance(v, dict)}
    settings = RefineSettings.from_config(design["refine"])
    abc = AbcSettings.from_config(design["abc"])
    train = TrainSettings.from_config(learn_section["diffusivity"], common, config["seed"], "cpu")
    spinodoid_refine.refine_spinodoid_design(
        design["abc"]["targets"]["eta1"],
        spinodoid_refine.RefineInputs(
            model=tmp_path / "model.pt",
            structures=tmp_path / "structures.zarr",
            transport=tmp_path / "transport.zarr",
            summary=tmp_path / "abc.json",
            validation=tmp_path / "validation.json",
            database=tmp_path / "abc.db",
        ),
        tmp_path / "work",
        settings=settings,
        abc=abc,
        train=train,
        ranges=config["spinodoid"],
        solver=config["transport"]["diffusion"],
        size=config["dataset"]["size"],
        seed=config["seed"],
        n_validation=design["validation"]["n_structures"],
        device="cpu",
    )
    assert seen["settings"] is settings and seen["abc"] is abc
    assert seen["data"] == {"batch_size": train.batch_size, "num_workers": train.num_workers}
    problem = seen["problem"]
    assert (problem.epochs, problem.lr, problem.correct) == (
        settings.epochs,
        settings.lr,
        settings.correction,
    )
    assert problem.model_batch_size == abc.model_batch_size
    assert problem.train_settings is train
    assert problem.n_validation == design["validation"]["n_structures"]
    assert seen["start"].theta_hat.tolist() == [0.1, 0.12, 0.14, 0.6]
    assert seen["start"].validation.eta_surrogate is None
    # the prior is restricted only when both the design stage and the refinement ask for it
    restricted = abc.restrict_prior and settings.restrict_prior
    assert (seen["prior"].support is not None) == restricted
    assert seen["identity"]["correction"] is settings.correction
