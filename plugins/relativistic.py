"""Relativistic GAN objectives (Jolicoeur-Martineau 2018, "The relativistic discriminator: a key
element missing from standard GAN", ICLR 2019).

D's output C(x) is a critic score; D judges whether real data is *more* realistic than
generated data, and the generator is trained to make the converse true. With f the
per-sample loss of the form (standard: f(y) = -log sigmoid(y) = softplus(-y); hinge:
f(y) = max(0, 1 - y)), x_r real and x_f generated:

* ``relativistic`` (RSGAN, RGAN in general; sec. 3.2 and Algorithm 1), over pairs of one
  real and one generated sample::

      D minimises E[f(C(x_r) - C(x_f))]        G minimises E[f(C(x_f) - C(x_r))]

* ``relativistic-average`` (RaSGAN, RaGAN in general; sec. 3.3), each sample against the
  mean score of the other kind::

      D minimises E[f(C(x_r) - E C(x_f))] + E[f(-(C(x_f) - E C(x_r)))]
      G minimises E[f(C(x_f) - E C(x_r))] + E[f(-(C(x_r) - E C(x_f)))]

``form="standard"`` (the default) gives RSGAN and RaSGAN, ``form="hinge"`` the hinge
versions (RaHingeGAN in the paper). The generator's side reads D's scores of a real batch
(computed by the trainer without gradient, ``g_needs_real``); its gradient flows through
the generated scores, in both terms of the average form. Pairs are formed in batch order,
as the author's code does; when the two batches differ in size (a technique kept only some
generated logits), the first min(n_real, n_fake) of each are paired.

The author's code averages the two terms of the average form (a factor 1/2 on both sides);
the paper's formulas, used here, do not. The factor changes only the balance with penalties:
Adam's steps do not depend on the scale of the loss.
The presets ``rsgan`` and ``ragan`` use the paper's standard CIFAR-10 setting (DCGAN's):
Adam, lr 2e-4, betas (0.5, 0.999), one D step per G step, batch size 32 (the run's batch
size is left as the user sets it).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganagerie.components import Loss

FORMS = ("standard", "hinge")


class _Relativistic(Loss):
    g_needs_real = True

    def __init__(self, form: str = "standard"):
        if form not in FORMS:
            raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
        self.form = form

    def f(self, y: Tensor) -> Tensor:
        """The per-sample loss of a relativistic score y (low when y is large)."""
        return F.softplus(-y) if self.form == "standard" else F.relu(1.0 - y)


class RelativisticLoss(_Relativistic):
    """Relativistic standard GAN (RSGAN): D scores real above a paired fake (Jolicoeur-Martineau 2018)."""

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        real_out, fake_out = _paired(real_out, fake_out)
        return self.f(real_out - fake_out).mean()

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        real_out, fake_out = _paired(_required(real_out), fake_out)
        return self.f(fake_out - real_out).mean()


class RelativisticAverageLoss(_Relativistic):
    """Relativistic average GAN (RaSGAN): scores against the other kind's mean (Jolicoeur-Martineau 2018)."""

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return self.f(real_out - fake_out.mean()).mean() + self.f(real_out.mean() - fake_out).mean()

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        real_out = _required(real_out)
        return self.f(fake_out - real_out.mean()).mean() + self.f(fake_out.mean() - real_out).mean()


def _paired(real_out: Tensor, fake_out: Tensor) -> tuple[Tensor, Tensor]:
    n = min(real_out.shape[0], fake_out.shape[0])  # shapes are host metadata: no sync
    return real_out[:n], fake_out[:n]


def _required(real_out: Tensor | None) -> Tensor:
    if real_out is None:
        raise ValueError("a relativistic generator loss needs D's logits on a real batch (real_out); "
                         "the trainer passes them because the loss sets g_needs_real")
    return real_out


# The paper's standard setting for both relativistic losses (DCGAN's optimiser, n_D = 1).
_PAPER_ADAM = {"n_critic": 1, "lr_g": 2e-4, "lr_d": 2e-4, "betas_g": [0.5, 0.999],
               "betas_d": [0.5, 0.999]}


def rsgan() -> dict:
    """Relativistic standard GAN, Adam(2e-4, 0.5, 0.999), 1 D step (Jolicoeur-Martineau 2018)."""
    return {"loss": "relativistic", "regularizers": [], **_PAPER_ADAM}


def ragan() -> dict:
    """Relativistic average standard GAN, Adam(2e-4, 0.5, 0.999), 1 D step (Jolicoeur-Martineau 2018)."""
    return {"loss": "relativistic-average", "regularizers": [], **_PAPER_ADAM}
