"""LeCam: the penalty and its debiased moving averages by hand, state, and a run that resumes."""

import pytest
import torch
from test_cli import SMALL_2D
from test_top_k import assert_resume_is_bit_identical
from test_trainer import losses

from ganagerie.components import DStep
from ganagerie.errors import UsageError
from ganagerie.plugins.lecam import LeCam
from ganagerie.train.checkpoint import read_checkpoint


def outputs(real, fake, grad=False):
    real, fake = torch.tensor(real), torch.tensor(fake)
    return DStep(None, None, None, None, real.requires_grad_(grad), fake.requires_grad_(grad))


def test_first_update_by_hand_with_gradient_to_the_outputs_only():
    lecam = LeCam()  # weight 0.3, decay 0.99
    step = outputs([2.0, -1.0], [0.5, -3.0], grad=True)
    pen = lecam.d_penalty(step)
    # debiased after one update the averages are the batch means: alpha_R = 0.5, alpha_F = -1.25
    alpha_real, alpha_fake = lecam.anchors()
    assert (alpha_real.item(), alpha_fake.item()) == pytest.approx((0.5, -1.25))
    # mean((2 + 1.25)^2, (-1 + 1.25)^2) + mean((0.5 - 0.5)^2, (-3 - 0.5)^2)
    #   = (10.5625 + 0.0625)/2 + (0 + 12.25)/2 = 11.4375, times 0.3 = 3.43125
    assert pen.item() == pytest.approx(3.43125)
    pen.backward()
    # d/dD(x_i) = 0.3 * 2 (D(x_i) - alpha_F) / 2; the averages are constants
    assert step.real_out.grad.tolist() == pytest.approx([0.975, 0.075])
    assert step.fake_out.grad.tolist() == pytest.approx([0.0, -1.05])


def test_the_averages_fold_each_batch_in_before_the_penalty():
    lecam = LeCam(weight=1.0, decay=0.99)
    lecam.d_penalty(outputs([2.0, -1.0], [0.5, -3.0]))  # means 0.5, -1.25
    pen = lecam.d_penalty(outputs([1.0, 1.0], [-1.0, -1.0]))  # means 1, -1
    # zero-debiased EMA of two means: (0.99 m1 + m2) / (1 + 0.99)
    alpha_real, alpha_fake = (0.99 * 0.5 + 1.0) / 1.99, (0.99 * -1.25 - 1.0) / 1.99
    assert lecam.updates == 2
    assert [a.item() for a in lecam.anchors()] == pytest.approx([alpha_real, alpha_fake])
    assert pen.item() == pytest.approx((1.0 - alpha_fake) ** 2 + (-1.0 - alpha_real) ** 2, rel=1e-5)
    logged = {k: float(v) for k, v in lecam.log_values().items()}
    assert logged == pytest.approx({"alpha_real": alpha_real, "alpha_fake": alpha_fake})


def test_one_sided_form_of_the_released_code():
    real, fake = [2.0, -2.0], [1.0, -3.0]  # alpha_R = 0, alpha_F = -1 after one update
    # two-sided: mean(3^2, (-1)^2) + mean(1^2, (-3)^2) = 5 + 5
    assert LeCam(weight=1.0).d_penalty(outputs(real, fake)).item() == pytest.approx(10.0)
    # one-sided: relu([3, -1])^2 -> 4.5; relu(0 - [1, -3])^2 = [0, 9] -> 4.5
    assert LeCam(weight=1.0, one_sided=True).d_penalty(outputs(real, fake)).item() == pytest.approx(9.0)


def test_state_round_trip():
    lecam = LeCam()
    lecam.d_penalty(outputs([2.0, -1.0], [0.5, -3.0]))
    lecam.d_penalty(outputs([1.0, 0.0], [0.0, -2.0]))
    fresh = LeCam()
    fresh.load_state_dict(lecam.state_dict())
    assert fresh.updates == 2
    assert all(torch.equal(a, b) for a, b in zip(fresh.anchors(), lecam.anchors()))


def test_bad_options_are_rejected(registry):
    with pytest.raises(UsageError, match="decay must be in"):
        registry.create("regularizer", "lecam", {"decay": 1.0})
    with pytest.raises(UsageError, match="weight must be >= 0"):
        registry.create("regularizer", "lecam", {"weight": -0.3})


def test_a_run_checkpoints_the_averages_logs_them_and_resumes_bit_identically(registry, tmp_path):
    assert_resume_is_bit_identical(registry, tmp_path, 20, variant="vanilla", regularizers=["lecam"])
    full = read_checkpoint(tmp_path / "full" / "checkpoints" / "last.json")["techniques"]["lecam"]
    part = read_checkpoint(tmp_path / "part" / "checkpoints" / "last.json")["techniques"]["lecam"]
    assert full["updates"] == part["updates"] == 20  # one D update per step
    assert torch.equal(full["ema_real"], part["ema_real"])
    assert torch.equal(full["ema_fake"], part["ema_fake"])
    row = losses(tmp_path / "full")[-1]
    assert {"d/lecam", "lecam/alpha_real", "lecam/alpha_fake"} <= set(row)
    assert row["d/lecam"] > 0


def test_lecam_preset_trains_from_the_cli(cli, tmp_path):
    code, stdout, err = cli("train", "--dataset", "ring8", "--variant", "lecam", "--steps", "10",
                            "--out", tmp_path / "r", "--quiet", *SMALL_2D)
    assert code == 0, err
    assert stdout.startswith("completed at step 10")
