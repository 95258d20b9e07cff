"""summary.md: a figure that signals a failed model gets a one-line warning beside it (issue 20)."""

import json

from poredesign.report.membrane import write_membrane_summary
from poredesign.report.pvae import _squares_model_lines
from poredesign.report.spinodoid import surrogate_table


def _warnings(lines):
    return [line for line in lines if line.startswith("> **Warning:**")]


def test_a_negative_r2_of_the_surrogate_is_flagged_and_a_good_one_is_not():
    bad = {"test": {"n": 30, "r2_eta": -0.42, "mape_eta": 40.0}}
    (warning,) = _warnings(surrogate_table(bad))
    assert "R^2 of the surrogate's eta (test split) is -0.420 < 0" in warning
    assert "\n" not in warning
    assert not _warnings(surrogate_table({"test": {"n": 30, "r2_eta": 0.91}}))


def test_negative_r2_of_the_square_pore_models_are_flagged():
    lines = _squares_model_lines(
        {"test": {"n": 10, "r2_k": -1.5, "r2_porosity": 0.9}},
        {"test": {"n": 10, "r2_porosity": 0.95, "r2_k": -0.1, "r2_porosity_reconstruction": 0.5}},
    )
    warnings = _warnings(lines)
    assert len(warnings) == 2
    assert "the CNN's k (test) is -1.50" in warnings[0]
    assert "the pVAE regressor's k (test) is -0.100" in warnings[1]


def test_the_membrane_summary_flags_a_failed_vae_and_transfer_worse_than_scratch(tmp_path):
    vae = tmp_path / "vae.json"
    vae.write_text(json.dumps({"test": {"n": 5, "r2_porosity_reconstruction": -0.2}}))
    transfer = tmp_path / "transfer.json"
    variants = {
        "pretrained": {"runs": 3, "test_mse_mean": 0.006, "train_mse_mean": 0.005},
        "scratch": {"runs": 3, "test_mse_mean": 0.004, "train_mse_mean": 0.004},
    }
    transfer.write_text(json.dumps({"variants": variants, "welch_p_value": 0.2}))
    out = tmp_path / "summary.md"
    write_membrane_summary(out, "s", vae_metrics=vae, transfer=transfer)
    warnings = _warnings(out.read_text().splitlines())
    assert len(warnings) == 2
    assert "reconstructed porosity (test) is -0.200" in warnings[0]
    assert "test MSE 0.006 is not below scratch's 0.004" in warnings[1]
    variants["pretrained"]["test_mse_mean"] = 0.003
    transfer.write_text(json.dumps({"variants": variants, "welch_p_value": 0.2}))
    write_membrane_summary(out, "s", transfer=transfer)
    assert not _warnings(out.read_text().splitlines())
