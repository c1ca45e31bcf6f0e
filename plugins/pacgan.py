"""Packing (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial
networks", NeurIPS).

The discriminator judges m samples at once: it is trained to tell m independent real
samples from m independent generated ones, and the generator to fool it,

    min_G max_D  E_{x_1..x_m ~ P}[log D(x_1, ..., x_m)]
               + E_{z_1..z_m}[log(1 - D(G(z_1), ..., G(z_m)))]

(with the run's loss in place of the log terms). A collapsed generator's packs look alike,
which a packed D sees at once: packing compares the product distributions P^m and Q^m,
and so penalises mode collapse more (the paper's analysis). The paper's headline is m = 2
(the default); its 2-D experiments use m = 2, 3, 4 (table 1).

How D sees a pack: the m samples are concatenated, along the features for vectors
(``(d,) -> (m*d,)``) and along the channels for images (``(C, H, W) -> (m*C, H, W)``), as
the paper does. The architecture builds D a second time for that shape (only its input
layer differs). A batch of B samples becomes B/m packs: samples ``i*m .. i*m + m - 1``
form pack i, in order. Real samples are packed with real ones and generated with generated.

* The batch size must be divisible by m; the trainer passes one batch through the
  transforms when the run is built, so a batch that does not divide is a usage error then.
* The run's ``batch_size`` counts samples, not packs: D sees ``batch_size / m`` packs per
  side. PacGAN's 2-D code draws a batch of 100 packs, so its presets set batch 100 * m.
* A gradient penalty that calls D on raw samples (``gradient-penalty`` on interpolates of
  ``step.real`` and ``step.fake``) does not fit the packed D; one computed on what D saw
  (``step.real_input``, ``step.fake_input``) would.
* Give pacgan after any other transform (augmentation, instance noise): those expect
  samples, not packs.
"""

from __future__ import annotations

from torch import Tensor

from ganagerie.components import Technique


class Packing(Technique):
    """D judges m samples at once, concatenated (PacGAN, Lin et al. 2018)."""

    def __init__(self, m: int = 2):
        if m < 1:
            raise ValueError(f"m (samples per pack) must be at least 1, got {m}")
        self.m = m

    def discriminator_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (self.m * shape[0], *shape[1:])

    def transform(self, x: Tensor, step: int) -> Tensor:
        batch = x.shape[0]
        if batch % self.m:
            raise ValueError(f"pacgan cannot pack a batch of {batch} samples in groups of m={self.m}; "
                             f"use a batch size divisible by {self.m}")
        # consecutive samples side by side: a view, so gradients flow back unchanged
        return x.reshape(batch // self.m, self.m * x.shape[1], *x.shape[2:])


def _pacgan_2d(m: int) -> dict:
    """PacGAN's 2-D protocol (sec. 5.1, app. D, and its code): the architecture of VEEGAN (G
    4x400 BN-ReLU from 2-d noise, D 3x200 maxout of 5 pieces), the GAN loss with G's
    non-saturating side, Adam(1e-4, beta1 0.8), 100 packs of m samples a batch. One difference:
    G's batch norm normalises over the whole batch of 100m samples, where the authors' code
    ran G once per position in the pack (m batches of 100)."""
    arch = {"latent_dim": 2, "g_width": 400, "g_depth": 4, "g_batchnorm": True,
            "d_width": 200, "d_depth": 3, "d_maxout": 5}
    return {
        "loss": "non-saturating",
        "regularizers": [{"name": "pacgan", "options": {"m": m}}],
        "arch": {"name": "mlp", "options": arch},
        "n_critic": 1,
        "batch_size": 100 * m,
        "lr_g": 1e-4,
        "lr_d": 1e-4,
        "betas_g": [0.8, 0.999],
        "betas_d": [0.8, 0.999],
    }


def pacgan2() -> dict:
    """PacGAN2: D sees pairs; 2-D setup, Adam(1e-4, 0.8), 100 packs a batch (Lin et al. 2018)."""
    return _pacgan_2d(2)


def pacgan4() -> dict:
    """PacGAN4: D sees 4 samples at once; 2-D setup, Adam(1e-4, 0.8), 100 packs (Lin et al. 2018)."""
    return _pacgan_2d(4)
