"""ABC-SMC with the batched sampler (SPEC 4.1): agreement with pyABC, stopping, outputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyabc
import pytest
from pyabc.inference_util import (
    create_simulate_from_prior_function,
    create_simulate_function,
    evaluate_proposal,
)
from pyabc.sampler import SingleCoreSampler

from poredesign.design.abc import (
    ABCStoppedError,
    BatchJob,
    BatchModel,
    BatchSampler,
    BoxPrior,
    MAPEDistance,
    default_tolerances,
    perturbation_transition,
    plot_marginals,
    read_posterior_store,
    run_abc,
    spinodoid_cnn_model,
    spinodoid_prior,
    spinodoid_prior_bounds,
    spinodoid_prior_from_config,
    write_posterior_store,
    write_summary,
)
from poredesign.structures import SpinodoidSampler

# -- toy problem with an analytic ABC posterior --------------------------------------------------
# y = theta + N(0, sigma^2 I), flat prior far wider than the posterior, distance
# rho = 100 mean_i |y_i - y0_i| / y0_i <= eps. In v_i = (y_i - y0_i) / y0_i the acceptance region
# is the L1 ball of radius r = d eps / 100, whose uniform distribution has E[v_i^2] =
# 2 r^2 / ((d + 1)(d + 2)). The ABC posterior of theta is y - noise with y uniform on that region,
# so its mean is y0 and its variance y0_i^2 * 2 r^2 / ((d + 1)(d + 2)) + sigma^2.
Y0 = np.array([1.0, 2.0])
SIGMA = 0.5
BOUNDS = {"x0": (-5.0, 5.0), "x1": (-5.0, 5.0)}
TOLERANCES = [200.0, 100.0, 50.0, 30.0]
POPULATION = 200


def toy_model(theta: np.ndarray) -> np.ndarray:
    # numpy's global state, which run_abc seeds: the run depends on the seed alone
    return theta + SIGMA * np.random.standard_normal(theta.shape)  # noqa: NPY002


def analytic_std(eps: float) -> np.ndarray:
    d = len(Y0)
    r = d * eps / 100.0
    return np.sqrt(Y0**2 * 2 * r**2 / ((d + 1) * (d + 2)) + SIGMA**2)


N_REPLICATES = 6


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory):
    """Batched sampler: one run with a History file plus replicates (in memory) for the standard
    error; pyABC's SingleCoreSampler: one run (it is ~5x slower per evaluation)."""
    tmp = tmp_path_factory.mktemp("toy")
    options = dict(population=POPULATION, tolerances=TOLERANCES, min_acceptance_rate=0.01)
    batched = run_abc(
        toy_model,
        Y0,
        BOUNDS,
        db_path=tmp / "batched.db",
        seed=100,
        batch_size=512,
        min_batch_size=32,
        **options,
    )
    replicates = [
        run_abc(
            toy_model,
            Y0,
            BOUNDS,
            db_path=None,
            seed=seed,
            batch_size=512,
            min_batch_size=32,
            **options,
        )
        for seed in range(N_REPLICATES)
    ]
    single = run_abc(
        toy_model,
        Y0,
        BOUNDS,
        db_path=tmp / "single.db",
        seed=100,
        sampler=SingleCoreSampler(check_max_eval=True),
        **options,
    )
    return batched, single, replicates


@pytest.mark.slow
def test_batched_and_single_core_agree_with_the_analytic_posterior(toy_runs):
    # Standard error of one run's posterior mean: the spread of the means over independent
    # replicates (SMC resampling correlates particles, so std / sqrt(ESS) is about 20 % too
    # small), and never below std / sqrt(ESS). Checked over 30 batched and 12 single-core seeds
    # when this test was written: means 0.990 / 1.013 (x0) and 2.014 / 2.023 (x1) against 1 and 2,
    # spreads 0.046 / 0.051 and 0.062 / 0.070, posterior std 0.55 / 0.56 and 0.70 / 0.73 against
    # the analytic 0.557 and 0.700.
    batched, single, replicates = toy_runs
    runs = [batched, single, *replicates]
    assert all(r.converged for r in runs), [r.message for r in runs if not r.converged]
    expected_std = analytic_std(TOLERANCES[-1])
    for result in runs:
        final = result.final
        assert final.epsilon == TOLERANCES[-1]
        assert len(final.weights) == POPULATION
        assert final.distances.max() <= TOLERANCES[-1]
        np.testing.assert_allclose(final.weights.sum(), 1.0)
        np.testing.assert_allclose(final.std(), expected_std, rtol=0.2)
    means = np.array([r.theta_hat for r in [batched, *replicates]])
    naive = np.mean([r.final.std() / math.sqrt(r.final.ess) for r in runs], axis=0)
    se = np.maximum(means.std(axis=0, ddof=1), naive)
    batched_mean, n = means.mean(axis=0), len(means)
    # both samplers within two standard errors of the analytic posterior mean ...
    assert np.all(np.abs(batched_mean - Y0) <= 2 * se / math.sqrt(n)), (batched_mean, se)
    assert np.all(np.abs(single.theta_hat - Y0) <= 2 * se), (single.theta_hat, se)
    # ... and of each other
    diff = np.abs(single.theta_hat - batched_mean)
    assert np.all(diff <= 2 * se * math.sqrt(1 + 1 / n)), (diff, se)


@pytest.mark.slow
def test_weights_sum_to_one_and_history_is_readable(toy_runs):
    batched, _, _ = toy_runs
    history = pyabc.History(f"sqlite:///{batched.db_path}")
    assert history.max_t == len(TOLERANCES) - 1
    pops = history.get_all_populations()
    for g in batched.generations:
        _, w = history.get_distribution(0, g.t)
        np.testing.assert_allclose(w.sum(), 1.0)
        np.testing.assert_allclose(g.weights.sum(), 1.0)
        stored = history.get_population(t=g.t)
        np.testing.assert_allclose(sum(p.weight for p in stored.particles), 1.0)
        row = pops[pops.t == g.t].iloc[0]
        assert row.samples == g.nr_evaluations and row.epsilon == g.epsilon
    # the batched sampler pays for a few more model evaluations than pyABC counts
    for g, attempt in zip(batched.generations, batched.attempts, strict=True):
        assert attempt["t"] == g.t and attempt["stop"] == "ok"
        assert g.model_evaluations >= g.nr_evaluations
    assert batched.model_evaluations >= batched.total_evaluations


def _toy_job(t=1, n_prev=100, seed=0):
    """A pyABC simulate_one closure for generation t of the toy problem."""
    rng = np.random.default_rng(seed)
    prior = BoxPrior(BOUNDS)
    # a previous population hugging the x0 = 5 boundary, so many proposals leave the prior
    prev = pd.DataFrame({"x0": rng.uniform(3.0, 5.0, n_prev), "x1": rng.normal(2.0, 1.0, n_prev)})
    weights = rng.uniform(0.5, 1.5, n_prev)
    transition = perturbation_transition()
    transition.fit(prev, weights / weights.sum())
    model = BatchModel(lambda th: np.stack([th[:, 0] * 0.5, th[:, 1]], axis=1), list(BOUNDS))
    simulate_one = create_simulate_function(
        t=t,
        model_probabilities=pd.DataFrame({"p": [1.0]}, index=pd.Index([0], name="m")),
        model_perturbation_kernel=pyabc.ModelPerturbationKernel(1, probability_to_stay=1.0),
        transitions=[transition],
        model_prior=pyabc.RV("randint", 0, 1),
        parameter_priors=[prior],
        models=[model],
        summary_statistics=lambda x: x,
        x_0={"eta": Y0},
        distance_function=MAPEDistance("eta"),
        eps=pyabc.epsilon.ListEpsilon([100.0, 60.0]),
        acceptor=pyabc.UniformAcceptor(),
    )
    return simulate_one, transition, prior


def test_same_acceptance_and_weights_as_pyabc_per_particle():
    simulate_one, transition, prior = _toy_job()
    job = BatchJob.from_closure(simulate_one)
    np.random.seed(5)  # noqa: NPY002
    models, frames, redraws = job.propose(300)
    frame = frames[0]
    assert redraws > 0  # proposals outside the prior were redrawn ...
    assert np.all(prior_density(prior, frame) > 0)  # ... so all are valid
    particles = job.evaluate(models, frames)
    kw = simulate_one.keywords
    n_accepted = 0
    for (particle, acc_weight), row in zip(particles, frame.itertuples(index=False), strict=True):
        pyabc_keywords = ("models", "summary_statistics", "distance_function", "eps", "acceptor")
        reference = evaluate_proposal(
            0,
            pyabc.Parameter(row._asdict()),
            t=1,
            x_0=kw["x_0"],
            weight_function=kw["weight_function"],
            proposal_id=0,
            **{key: kw[key] for key in pyabc_keywords},
        )
        assert particle.accepted == reference.accepted
        assert particle.distance == pytest.approx(reference.distance, rel=1e-12)
        if particle.accepted:
            n_accepted += 1
            assert job.weight(particle, acc_weight) == pytest.approx(reference.weight, rel=1e-12)
            # prior / proposal density, as in pyABC
            expected = prior.pdf(particle.parameter) / transition.pdf(particle.parameter)
            assert job.weight(particle, acc_weight) == pytest.approx(expected, rel=1e-10)
    assert 0 < n_accepted < len(particles)  # both outcomes exercised


def test_calibration_particles_are_prior_draws_accepted_with_weight_one():
    model = BatchModel(lambda th: 2.0 * th, list(BOUNDS))
    simulate_one = create_simulate_from_prior_function(
        model_prior=pyabc.RV("randint", 0, 1),
        parameter_priors=[BoxPrior(BOUNDS)],
        models=[model],
        summary_statistics=lambda x: x,
    )
    job = BatchJob.from_closure(simulate_one)
    assert job.calibration
    assert BatchJob.from_closure(lambda: None) is None  # unknown closures: one by one
    np.random.seed(2)  # noqa: NPY002
    particles, redraws = job.run_batch(5)
    assert redraws == 0 and len(particles) == 5
    for particle, acceptance_weight in particles:
        assert particle.accepted and particle.distance == np.inf and particle.proposal_id == 0
        assert particle.weight == 1.0 == acceptance_weight == job.weight(particle, 1.0)
        theta = np.array([particle.parameter[k] for k in BOUNDS])
        np.testing.assert_array_equal(particle.sum_stat["eta"], 2.0 * theta)


def test_mape_distance_single_and_batch_agree():
    distance = MAPEDistance("eta")
    x0 = {"eta": np.array([0.4, 0.5, 0.6])}
    xs = [{"eta": np.array([0.5, 0.5, 0.3])}, {"eta": [0.4, 0.55, 0.6]}]
    expected = [100 * (0.1 / 0.4 + 0 + 0.3 / 0.6) / 3, 100 * (0.05 / 0.5) / 3]
    np.testing.assert_allclose(distance.batch(xs, x0), expected, rtol=1e-14)
    assert [distance(x, x0) for x in xs] == distance.batch(xs, x0).tolist()


def prior_density(prior, frame):
    return np.array([prior.pdf(pyabc.Parameter(r._asdict())) for r in frame.itertuples(False)])


def test_sampler_stops_at_n_accepted_in_proposal_order():
    simulate_one, _, _ = _toy_job()
    sampler = BatchSampler(batch_size=64, min_batch_size=64)
    np.random.seed(1)  # noqa: NPY002
    sample = sampler.sample_until_n_accepted(20, simulate_one, 1, max_eval=10_000)
    assert sample.ok and sample.n_accepted == 20
    stats = sampler.generations[-1]
    assert stats.nr_evaluations == sampler.nr_evaluations_ <= stats.model_evaluations
    # the last counted proposal is the 20th acceptance
    sample = sampler.sample_until_n_accepted(20, simulate_one, 1, max_eval=25)
    assert not sample.ok and sampler.nr_evaluations_ == 25
    assert sampler.generations[-1].stop == "max_eval"
    assert sampler.generations[-1].model_evaluations == 25  # the last batch is trimmed


# -- stopping ---------------------------------------------------------------------------------
def bounded_model(theta: np.ndarray) -> np.ndarray:
    """eta <= porosity <= 0.85: eta = (0.95, 0.95, 0.95) cannot be reached."""
    a, eps = theta[:, :3], theta[:, 3:4]
    return eps * (a / a.max(axis=1, keepdims=True)) ** 0.5


def test_unreachable_target_ends_with_a_clear_message(tmp_path):
    prior = spinodoid_prior()
    result = run_abc(
        bounded_model,
        [0.95, 0.95, 0.95],
        prior,
        population=50,
        db_path=tmp_path / "unreachable.db",
        seed=0,
        batch_size=500,
        min_acceptance_rate=0.02,
    )
    assert result.status == "acceptance_rate_too_low"
    assert not result.converged
    assert 0 < len(result.generations) < len(default_tolerances())
    assert "acceptance rate too low" in result.message
    assert "best distance reached" in result.message
    failed = result.attempts[-1]
    assert failed["stop"] == "max_eval" and failed["nr_evaluations"] == 50 / 0.02
    # the best reachable distance is about 100 * (0.95 - 0.85) / 0.95 = 10.5 or more
    assert result.best_distance > 100 * (0.95 - 0.85) / 0.95
    assert result.best_distance > result.tolerances[len(result.generations)]
    summary = result.summary()
    assert summary["status"] == "acceptance_rate_too_low" and summary["message"] == result.message

    with pytest.raises(ABCStoppedError, match="acceptance rate too low"):
        run_abc(
            bounded_model,
            [0.95, 0.95, 0.95],
            prior,
            population=50,
            db_path=None,
            seed=0,
            batch_size=500,
            min_acceptance_rate=0.02,
            strict=True,
        )


def test_simulation_budget_stops_the_run(tmp_path):
    result = run_abc(
        toy_model,
        Y0,
        BOUNDS,
        population=50,
        tolerances=[200, 50, 20, 5],
        db_path=tmp_path / "budget.db",
        seed=0,
        min_acceptance_rate=0.001,
        max_total_nr_simulations=400,
    )
    assert result.status == "simulation_budget_exhausted", result.message
    assert "simulation budget" in result.message
    assert result.total_evaluations <= 400


# -- outputs and reproducibility --------------------------------------------------------------
@pytest.mark.slow
def test_posterior_store_roundtrip_and_figures(toy_runs, tmp_path):
    batched, _, _ = toy_runs
    write_posterior_store(batched, tmp_path / "posterior.zarr")
    data = read_posterior_store(tmp_path / "posterior.zarr")
    n_gen = len(batched.generations)
    assert data["params"].shape == (n_gen, POPULATION, 2)
    assert data["param_names"] == ["x0", "x1"]
    for t, g in enumerate(batched.generations):
        np.testing.assert_array_equal(data["params"][t], g.params)
        np.testing.assert_array_equal(data["weights"][t], g.weights)
        np.testing.assert_allclose(data["weights"][t].sum(), 1.0)
        np.testing.assert_array_equal(data["stats"][t], g.stats)
    np.testing.assert_array_equal(data["epsilons"], TOLERANCES)
    np.testing.assert_array_equal(data["theta_hat"], batched.theta_hat)
    np.testing.assert_array_equal(
        data["nr_evaluations"], [g.nr_evaluations for g in batched.generations]
    )
    np.testing.assert_allclose(
        data["acceptance_rates"], [g.acceptance_rate for g in batched.generations]
    )
    assert data["attrs"]["status"] == "converged" and data["attrs"]["complete"]

    plot_marginals(batched, tmp_path / "marginals.png")
    assert (tmp_path / "marginals.png").read_bytes()[:4] == b"\x89PNG"
    write_summary(batched, tmp_path / "summary.json")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["theta_hat"] == dict(zip(["x0", "x1"], batched.theta_hat.tolist(), strict=True))
    assert [g["nr_evaluations"] for g in summary["generations"]] == [
        g.nr_evaluations for g in batched.generations
    ]


def test_empty_posterior_store_for_a_run_without_generations(tmp_path):
    # the first generation already fails: store, figure and summary still get written
    result = run_abc(
        bounded_model,
        [0.95, 0.95, 0.95],
        spinodoid_prior(),
        population=20,
        tolerances=[1.0],
        db_path=tmp_path / "none.db",
        seed=0,
        min_acceptance_rate=0.1,
    )
    assert result.generations == [] and np.all(np.isnan(result.theta_hat))
    assert "no generation completed" in result.message
    write_posterior_store(result, tmp_path / "none.zarr")
    assert read_posterior_store(tmp_path / "none.zarr")["params"].shape == (0, 20, 4)
    plot_marginals(result, tmp_path / "none.png")
    write_summary(result, tmp_path / "none.json")
    assert json.loads((tmp_path / "none.json").read_text())["theta_hat"]["a_x"] is None


def test_same_seed_same_posterior(tmp_path):
    def run(seed, db_path=None):
        return run_abc(
            toy_model,
            Y0,
            BOUNDS,
            population=60,
            tolerances=[200, 80, 40],
            db_path=db_path,
            seed=seed,
            batch_size=128,
            min_batch_size=16,
        )

    a, b, c = run(11, tmp_path / "a.db"), run(11), run(12)
    for ga, gb in zip(a.generations, b.generations, strict=True):
        np.testing.assert_array_equal(ga.params, gb.params)
        np.testing.assert_array_equal(ga.weights, gb.weights)
    assert not np.array_equal(a.final.params, c.final.params)


# -- the spinodoid model and prior --------------------------------------------------------------
def test_spinodoid_prior_covers_the_dataset_region():
    sampler = SpinodoidSampler(size=16)
    prior = spinodoid_prior(sampler.m_range, sampler.beta_range, sampler.porosity_range)
    rng = np.random.default_rng(0)
    draws = np.array([sampler.draw_params(rng) for _ in range(2000)])
    assert prior.inside(draws).all()
    bounds = spinodoid_prior_bounds()
    lo = np.array([b[0] for b in bounds.values()])
    hi = np.array([b[1] for b in bounds.values()])
    # the box is tight: the dataset's draws come close to both ends of every a_i
    assert np.all(draws.min(axis=0)[:3] < lo[:3] * 1.5)
    assert np.all(draws.max(axis=0)[:3] > hi[:3] * 0.8)
    np.random.seed(0)  # noqa: NPY002
    samples = prior.rvs(size=500).to_numpy()
    a = samples[:, :3]
    assert np.all(a.max(1) / a.min(1) <= 3 + 1e-9)
    assert np.all((a.mean(1) >= 0.05 - 1e-12) & (a.mean(1) <= 0.2 + 1e-12))
    # unrestricted: the plain box, which also holds strongly anisotropic a
    box = spinodoid_prior(restrict=False).rvs(size=500).to_numpy()[:, :3]
    assert (box.max(1) / box.min(1)).max() > 3


def test_spinodoid_prior_from_the_config_section():
    section = {"m_range": [0.1, 0.3], "beta_range": [1.0, 2.0], "porosity_range": [0.4, 0.7]}
    for restrict in (True, False):
        prior = spinodoid_prior_from_config(section, restrict=restrict)
        expected = spinodoid_prior([0.1, 0.3], [1.0, 2.0], [0.4, 0.7], restrict=restrict)
        assert prior.describe() == expected.describe()
        assert prior.describe()["bounds"]["porosity"] == [0.4, 0.7]
        assert (prior.support is None) == (not restrict)


def pore_fraction_per_axis(solid):
    """A stand-in surrogate: the pore fraction of the central plane normal to each axis."""
    pore = (~solid).float()
    c = solid.shape[1] // 2
    return np.stack(
        [
            pore[:, c].mean(dim=(1, 2)).numpy(),
            pore[:, :, c].mean(dim=(1, 2)).numpy(),
            pore[:, :, :, c].mean(dim=(1, 2)).numpy(),
        ],
        axis=1,
    )


def test_spinodoid_model_is_seeded_and_batch_independent():
    theta = np.array([[0.1, 0.1, 0.2, 0.5], [0.2, 0.1, 0.1, 0.4], [0.08, 0.12, 0.1, 0.7]] * 2)
    a = spinodoid_cnn_model(pore_fraction_per_axis, size=16, seed=4, batch_size=4, device="cpu")
    b = spinodoid_cnn_model(pore_fraction_per_axis, size=16, seed=4, batch_size=2, device="cpu")
    eta_a, eta_b = a(theta), b(theta)
    assert eta_a.shape == (6, 3)
    np.testing.assert_array_equal(eta_a, eta_b)  # structure j depends on (seed, j) only
    assert a.counter == 6 and a.timings["structures"] == 6
    assert not np.array_equal(eta_a[:3], eta_a[3:])  # new structures for repeated parameters
    np.testing.assert_allclose(eta_a.mean(axis=1), theta[:, 3], atol=0.15)


def test_run_abc_with_spinodoids_end_to_end(tmp_path):
    model = spinodoid_cnn_model(
        pore_fraction_per_axis, size=16, seed=1, batch_size=64, device="cpu"
    )
    result = run_abc(
        model,
        [0.45, 0.5, 0.55],
        spinodoid_prior(),
        population=40,
        tolerances=[60.0, 25.0, 12.0],
        db_path=tmp_path / "spinodoid.db",
        seed=2,
        batch_size=256,
    )
    assert result.converged, result.message
    assert result.param_names == ["a_x", "a_y", "a_z", "porosity"]
    assert abs(result.theta_hat[3] - 0.5) < 0.1
    assert result.model_evaluations == model.counter
