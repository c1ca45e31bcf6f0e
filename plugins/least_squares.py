"""The least-squares GAN objective (Mao et al. 2017, "Least Squares Generative Adversarial
Networks", ICCV; eq. 2).

With targets a (for generated samples), b (for real ones) and c (what G wants D to say of
its samples), on D's raw (linear) output::

    D minimises  1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]
    G minimises  1/2 E[(D(G(z)) - c)^2]

The defaults a=0, b=c=1 are the paper's 0-1 coding (eq. 9), the one its code trains with;
a=-1, b=1, c=0 (eq. 8, b - c = 1 and b - a = 2) is the form under which minimising the
objective minimises the Pearson chi^2 divergence. The ``lsgan`` preset trains with the
optimiser of the authors' scene-generation code (``train_lsun.py``): Adam on both sides with
learning rate 1e-3 and beta1 0.5 (beta2 0.999, TensorFlow's default), not DCGAN's 2e-4.
"""

from __future__ import annotations

from torch import Tensor

from ganagerie.components import Loss


class LeastSquaresLoss(Loss):
    """Least-squares loss: D regresses real to b and fakes to a, G pushes fakes to c (Mao 2017)."""

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0):
        if a == b:
            raise ValueError(f"a (the target for fakes) and b (for real data) must differ, both are {a}; "
                             "use the defaults a=0,b=1,c=1 or the chi^2 form a=-1,b=1,c=0")
        self.a, self.b, self.c = a, b, c

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return 0.5 * (real_out - self.b).square().mean() + 0.5 * (fake_out - self.a).square().mean()

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return 0.5 * (fake_out - self.c).square().mean()


def lsgan() -> dict:
    """Least-squares loss a=0, b=c=1, Adam(1e-3, 0.5, 0.999) (Mao et al. 2017)."""
    return {
        "loss": "least-squares",
        "regularizers": [],
        "n_critic": 1,
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "betas_g": [0.5, 0.999],
        "betas_d": [0.5, 0.999],
    }
