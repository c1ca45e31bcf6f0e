"""Adaptive discriminator augmentation, ADA (Karras et al. 2020, "Training Generative
Adversarial Networks with Limited Data").

Everything the discriminator sees, real and generated, in both updates, goes through a
pipeline of augmentations, each applied to each sample independently with probability p
(ADA's parameters, for images in [-1, 1]):

* flip: a left-right mirror with probability 1/2;
* rotate90: 0, 1, 2 or 3 quarter turns, uniform;
* translation: round(t * side) pixels on each axis, t ~ U[-0.125, 0.125], reflection padding;
* brightness: x + b, b ~ N(0, 0.2^2);
* contrast: c x (about mid-grey 0), log2 c ~ N(0, 0.5^2);
* saturation: deviation from the channel mean times s, log2 s ~ N(0, 1) (no-op in grey);
* cutout (not in the default): a half-side square set to 0, centre uniform.

p adapts to the discriminator's overfitting, measured on the real batches by

    r_t = E[sign(D(x_real))]

over ``interval`` discriminator updates (4); then

    p <- clamp(p + sign(r_t - target) * N / (ada_kimg * 1000), 0, 1),

where N is the number of real images in those updates (batch * interval), target = 0.6 and
ada_kimg = 500 (p can go from 0 to 1 in 500k images). p starts at 0. The paper's default
pipeline "bgc" is blit (flip, rotate90, integer translation), general geometric (scaling,
arbitrary rotation, fractional translation) and colour (brightness, contrast, luma flip, hue,
saturation); the general geometric group (which needs the paper's resampling filter), luma
flip and hue rotation are not implemented here. p, its statistics and the update count live
on the device and in the checkpoint; no host sync. The paper trains StyleGAN2 (non-saturating
loss with an R1 penalty); the ``ada`` preset keeps the non-saturating loss, without R1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ganagerie.components import Discriminator, DStep, Generator, Technique
from ganagerie.plugins import augment_ops as aug
from ganagerie.plugins.variants import vanilla

#: every operation, in the order the pipeline applies them (geometric, then colour, then cutout)
ADA_OPS = ("flip", "rotate90", "translation", "brightness", "contrast", "saturation", "cutout")
#: the paper's blit and colour groups that are implemented here
DEFAULT_OPS = "flip,rotate90,translation,brightness,contrast,saturation"


class ADA(Technique):
    """Augmentations applied with probability p, p tuned so E[sign D(real)] stays near 0.6 (Karras 2020)."""

    def __init__(self, ops: str = DEFAULT_OPS, target: float = 0.6, interval: int = 4,
                 ada_kimg: float = 500.0, p: float = 0.0, adaptive: bool = True):
        chosen = set(aug.parse_ops(ops, ADA_OPS, "ops"))
        if not -1 < target < 1:
            raise ValueError(f"target (the wanted E[sign D(real)]) must be in (-1, 1), got {target}")
        if interval < 1:
            raise ValueError(f"interval must be at least 1 discriminator update, got {interval}")
        if ada_kimg <= 0:
            raise ValueError(f"ada_kimg (thousands of images for p to go from 0 to 1) must be > 0, "
                             f"got {ada_kimg}")
        if not 0 <= p <= 1:
            raise ValueError(f"p (the initial augmentation probability) must be in [0, 1], got {p}")
        self.ops = tuple(name for name in ADA_OPS if name in chosen)
        self.target, self.interval, self.ada_kimg, self.adaptive = target, interval, ada_kimg, adaptive
        self.p = torch.tensor(float(p))
        self.sign_sum = torch.zeros(())  # sum of sign(D(real)) since the last adjustment
        self.r_t = torch.zeros(())  # the last measured E[sign(D(real))]
        self.n_signs = 0  # real images since the last adjustment (shapes only: no sync)
        self.updates = 0  # discriminator updates seen
        self.adjustments = 0

    def periods(self) -> tuple[int, ...]:
        return (self.interval,)

    def discriminator_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        aug.require_images(shape, "ada")
        if "rotate90" in self.ops and shape[1] != shape[2]:
            raise ValueError(f"ada's rotate90 needs square images, got {shape[1]}x{shape[2]}; "
                             "drop it from ops")
        return shape

    def setup(self, generator: Generator, discriminator: Discriminator) -> None:
        param = next(discriminator.parameters(), None)
        if param is not None:  # keep p next to the networks, so that using it never syncs
            self._to(param.device)

    def _to(self, device: torch.device) -> None:
        self.p, self.sign_sum, self.r_t = (t.to(device) for t in (self.p, self.sign_sum, self.r_t))

    def transform(self, x: Tensor, step: int) -> Tensor:
        aug.require_images(x.shape[1:], "ada")
        b, dev = x.shape[0], x.device
        p = self.p.to(dev)

        def gated(new: Tensor, old: Tensor) -> Tensor:
            """``new`` for the samples drawn with probability p, ``old`` (exactly) for the rest."""
            return torch.where((torch.rand(b, device=dev) < p).view(-1, 1, 1, 1), new, old)

        def gaussian(std: float) -> Tensor:
            return torch.randn(b, device=dev, dtype=x.dtype) * std

        def shift(side: int) -> Tensor:
            return ((torch.rand(b, device=dev) * 2 - 1) * (0.125 * side)).round().long()

        for name in self.ops:
            if name == "flip":
                x = gated(aug.flip(x, torch.rand(b, device=dev) < 0.5), x)
            elif name == "rotate90":
                x = gated(aug.rotate90(x, torch.randint(0, 4, (b,), device=dev)), x)
            elif name == "translation":
                x = gated(aug.translate(x, shift(x.shape[2]), shift(x.shape[3]), padding="reflect"), x)
            elif name == "brightness":
                x = gated(aug.brightness(x, gaussian(0.2)), x)
            elif name == "contrast":
                x = gated(aug.contrast(x, torch.exp2(gaussian(0.5)), center=0.0), x)
            elif name == "saturation":
                x = gated(aug.saturation(x, torch.exp2(gaussian(1.0))), x)
            elif name == "cutout":
                x = gated(aug.random_cutout(x), x)
        return x

    def after_d_step(self, step: DStep) -> None:
        out = step.real_out
        self.sign_sum = self.sign_sum.to(out.device) + out.sign().sum()
        self.n_signs += out.numel()
        self.updates += 1
        if self.updates % self.interval == 0:
            self.r_t = self.sign_sum / self.n_signs  # measured with a fixed p too, for the log
            if self.adaptive:
                step_size = self.n_signs / (self.ada_kimg * 1000)
                self.p = (self.p.to(out.device) + torch.sign(self.r_t - self.target) * step_size).clamp(0, 1)
            self.sign_sum = torch.zeros_like(self.sign_sum)
            self.n_signs = 0
            self.adjustments += 1

    def log_values(self) -> Mapping[str, Tensor]:
        # r_t exists once measured; before that a 0 would read as a measurement
        return {"p": self.p, "rt": self.r_t} if self.adjustments else {"p": self.p}

    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p, "sign_sum": self.sign_sum, "r_t": self.r_t, "n_signs": self.n_signs,
                "updates": self.updates, "adjustments": self.adjustments}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        device = self.p.device
        self.p, self.sign_sum, self.r_t = (state[k].to(device) for k in ("p", "sign_sum", "r_t"))
        self.n_signs, self.updates = int(state["n_signs"]), int(state["updates"])
        self.adjustments = int(state["adjustments"])


def ada() -> dict:
    """Non-saturating loss + ADA (target 0.6, 500 kimg), DCGAN's Adam (Karras et al. 2020)."""
    return {**vanilla(), "regularizers": [{"name": "ada", "options": {}}]}
