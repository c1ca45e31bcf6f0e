"""The generator EMA by hand: theta_ema <- d theta_ema + (1 - d) theta, and BigGAN's start."""

import pytest
import torch
from torch import nn

from ganagerie.plugins.ema import GeneratorEMA


def _step(ema, g, value, step):
    with torch.no_grad():
        g.weight.fill_(value)
    ema.after_g_step(type("GStep", (), {"step": step})())
    return ema.average.weight.item()


def test_the_average_by_hand_and_the_updates_before_start_copy():
    g = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        g.weight.fill_(0.0)
    ema = GeneratorEMA(decay=0.5, start=3)
    ema.setup(g, None)
    # G updates 1 and 2 (steps 0 and 1, counted before the update) copy; the 3rd averages
    assert _step(ema, g, 4.0, 0) == 4.0
    assert _step(ema, g, 2.0, 1) == 2.0
    assert _step(ema, g, 6.0, 2) == pytest.approx(0.5 * 2.0 + 0.5 * 6.0)
    plain = GeneratorEMA(decay=0.5)  # start 0: averaging from the first update
    g.weight.data.fill_(0.0)
    plain.setup(g, None)
    assert _step(plain, g, 4.0, 0) == pytest.approx(2.0)


def test_a_negative_start_is_refused():
    with pytest.raises(ValueError, match="start must be 0"):
        GeneratorEMA(start=-1)
