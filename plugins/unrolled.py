"""Unrolled discriminator for the generator's update (Metz et al. 2017, "Unrolled Generative
Adversarial Networks", ICLR).

The generator is trained against the discriminator it would face after K more steps of
D's own optimisation (sec. 3)::

    theta_D^0 = theta_D,   theta_D^{k+1} = theta_D^k + eta^k * df(theta_G, theta_D^k)/dtheta_D^k
    f_K(theta_G, theta_D) = f(theta_G, theta_D^K(theta_G, theta_D))
    theta_G <- theta_G - eta * df_K/dtheta_G,   theta_D <- theta_D + eta * df/dtheta_D

D's own update is the ordinary one; the K unrolled steps only shape G's gradient and are
then thrown away. The paper varies K between experiments; the default 5 is the unrolling
of the authors' 2-D demonstration (Poole, github.com/poolio/unrolled_gan).

What is implemented here is the first-order surrogate, NOT the paper's gradient. The
paper differentiates through the unrolling: df_K/dtheta_G = df/dtheta_G +
df/dtheta_D^K * dtheta_D^K/dtheta_G, and its second term (how D would react to a change
of G) is what it credits for the reduced mode collapse. This module takes only the first
term, evaluated at theta_D^K: the generator steps against the unrolled D, with no gradient
through D's updates (cheaper, and weaker against mode collapse). One step is:

1. the run's n_critic ordinary D updates (kept);
2. save D's weights and buffers and D's optimizer state;
3. K more D updates with the run's own loss, penalties and optimizer (fresh batches);
4. one G update against that unrolled D;
5. restore D and its optimizer to step 2.

The unrolled updates draw real batches and noise, so the data order differs from a plain
run's; it stays deterministic, and a resumed run replays it. Other techniques' after-D
hooks run on the unrolled updates too, and their own state is not rolled back in step 5
(weight clipping is harmless; a running statistic would count the unrolled updates).
"""

from __future__ import annotations

import copy

from torch import Tensor

from ganagerie.components import StepRunner, Technique


class Unrolled(Technique):
    """G steps against D unrolled k steps ahead, first-order surrogate (Metz et al. 2017)."""

    def __init__(self, k: int = 5):
        if k < 0:
            raise ValueError(f"k (unrolled D steps) must be 0 or more, got {k}")
        self.k = k

    def train_step(self, run: StepRunner) -> Tensor:
        for _ in range(run.n_critic):
            d = run.d_update()
        if self.k == 0:
            return run.log_row(d, run.g_update())
        D, opt_d = run.discriminator, run.optimizer_d
        weights, opt_state = copy.deepcopy(D.state_dict()), copy.deepcopy(opt_d.state_dict())
        for _ in range(self.k):
            run.d_update()
        g = run.g_update()
        D.load_state_dict(weights)
        opt_d.load_state_dict(opt_state)
        return run.log_row(d, g)


def unrolled_5() -> dict:
    """Minimax GAN, G against D unrolled 5 steps (first-order), Adam(1e-4, 0.5) (Metz et al. 2017)."""
    # the paper's 2-D setting (app. A): the minimax objective on both sides, Adam lr 1e-4, beta1 0.5
    return {"loss": "minimax", "regularizers": [{"name": "unrolled", "options": {"k": 5}}],
            "n_critic": 1, "lr_g": 1e-4, "lr_d": 1e-4, "betas_g": [0.5, 0.999], "betas_d": [0.5, 0.999]}
