"""The contracts' own behaviour: what a context built by hand holds."""

import torch

from ganagerie.components import DStep, GStep


def test_a_hand_built_context_says_d_saw_the_samples():
    real, fake = torch.ones(4, 2), torch.zeros(4, 2)
    d = DStep(None, None, real, fake, None, None)
    assert d.real_input is real and d.fake_input is fake
    g = GStep(None, None, real, fake, None, None)
    assert g.fake_input is fake
    seen = fake * 2
    assert DStep(None, None, real, fake, None, None, fake_input=seen).fake_input is seen
