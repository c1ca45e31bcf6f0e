"""Differentiable image augmentations shared by DiffAugment, ADA and consistency regularization.

Every operation takes its random parameters explicitly, one per sample (so a test can fix
them and each technique draws them from its own paper's distribution), and is built from
tensor arithmetic, ``gather`` and masks, never in place on its input: gradients reach the
input. Images are ``[B, C, H, W]`` in [-1, 1]; pixels that a shift uncovers or a cutout
removes become 0, mid-grey.

The ``random_*`` functions draw the parameters as DiffAugment does (Zhao et al. 2020,
"Differentiable Augmentation for Data-Efficient GAN Training", and its released code, which
also works on images in [-1, 1], so its constants apply unchanged):

* color: brightness x + b, b ~ U[-0.5, 0.5]; saturation m_c + s (x - m_c), s ~ U[0, 2], with
  m_c the mean over channels; contrast m + c (x - m), c ~ U[0.5, 1.5], m the image's mean;
* translation: an integer shift of up to round(H / 8) rows and round(W / 8) columns, each
  uniform over [-shift, shift], zero padding;
* cutout: a round(H / 2) x round(W / 2) square set to 0, centred uniformly on the image
  (clipped at the border);
* flip: a horizontal flip with probability 1/2 (not DiffAugment's; consistency
  regularization's T, Zhang et al. 2020 and Zhao et al. 2021).

They use torch's global RNG on ``x.device``, so the trainer's seeding makes runs repeatable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor

from ganagerie.errors import did_you_mean


def _per_sample(value: Tensor | float, x: Tensor) -> Tensor | float:
    """A per-sample parameter ``[B]`` shaped to broadcast over ``[B, C, H, W]``."""
    if isinstance(value, Tensor):
        return value.to(x.dtype).view(-1, 1, 1, 1)
    return value


# -- the operations, parameters given -------------------------------------------------------

def brightness(x: Tensor, shift: Tensor) -> Tensor:
    """``x + shift`` per sample."""
    return x + _per_sample(shift, x)


def saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Each pixel's deviation from its mean over channels, scaled by ``factor`` per sample."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * _per_sample(factor, x) + mean


def contrast(x: Tensor, factor: Tensor, center: float | None = None) -> Tensor:
    """The deviation from ``center`` scaled by ``factor`` per sample; ``center=None`` is each
    image's mean (DiffAugment), ``0.0`` is mid-grey (ADA's colour matrix)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True) if center is None else center
    return (x - mean) * _per_sample(factor, x) + mean


def flip(x: Tensor, flipped: Tensor) -> Tensor:
    """Left-right mirror image of the samples where ``flipped`` (bool ``[B]``) is true."""
    return torch.where(flipped.view(-1, 1, 1, 1), x.flip(3), x)


def rotate90(x: Tensor, turns: Tensor) -> Tensor:
    """Each sample rotated by ``turns`` (int ``[B]``) quarter turns, as ``torch.rot90``
    (from the height axis towards the width axis); square images only."""
    if x.shape[2] != x.shape[3]:
        raise ValueError(f"90-degree rotations need square images, got {x.shape[2]}x{x.shape[3]}")
    turns = (turns % 4).view(-1, 1, 1, 1)
    out = x
    for k in (1, 2, 3):
        out = torch.where(turns == k, torch.rot90(x, k, dims=(2, 3)), out)
    return out


def translate(x: Tensor, dy: Tensor, dx: Tensor, padding: str = "zeros") -> Tensor:
    """Content moved down by ``dy`` rows and right by ``dx`` columns (int ``[B]``):
    ``out[i, j] = x[i - dy, j - dx]``; uncovered pixels are 0 (``padding="zeros"``) or the
    image mirrored at its border (``"reflect"``, shifts shorter than the side)."""
    b, c, h, w = x.shape
    rows = torch.arange(h, device=x.device) - dy.view(-1, 1)  # source row of each output row
    cols = torch.arange(w, device=x.device) - dx.view(-1, 1)
    if padding == "zeros":
        inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
        rows, cols = rows.clamp(0, h - 1), cols.clamp(0, w - 1)
    elif padding == "reflect":
        rows, cols, inside = _reflect(rows, h), _reflect(cols, w), None
    else:
        raise ValueError(f"unknown padding {padding!r}; use zeros or reflect")
    index = (rows[:, :, None] * w + cols[:, None, :]).view(b, 1, h * w).expand(b, c, h * w)
    out = x.reshape(b, c, h * w).gather(2, index).view(b, c, h, w)
    return out if inside is None else torch.where(inside[:, None], out, 0.0)


def _reflect(index: Tensor, n: int) -> Tensor:
    """Indices mirrored into [0, n) about the border pixels (..., 1, 0, 1, ..., n-2, n-1, n-2, ...)."""
    index = index.abs()
    return torch.where(index > n - 1, 2 * (n - 1) - index, index)


def cutout(x: Tensor, cy: Tensor, cx: Tensor, size: tuple[int, int]) -> Tensor:
    """``x`` with rows ``cy - h // 2 ... cy - h // 2 + h - 1`` of columns ``cx - w // 2 ...``
    set to 0, per sample, for ``size = (h, w)``; the part outside the image is dropped."""
    h, w = size
    top = (cy - h // 2).view(-1, 1)
    left = (cx - w // 2).view(-1, 1)
    rows = torch.arange(x.shape[2], device=x.device)
    cols = torch.arange(x.shape[3], device=x.device)
    hole = (((rows >= top) & (rows < top + h))[:, :, None]
            & ((cols >= left) & (cols < left + w))[:, None, :])
    return torch.where(hole[:, None], 0.0, x)


# -- DiffAugment's random draws ---------------------------------------------------------------

def _uniform(x: Tensor, low: float, high: float) -> Tensor:
    return torch.rand(x.shape[0], device=x.device, dtype=x.dtype) * (high - low) + low


def random_color(x: Tensor) -> Tensor:
    """Brightness, then saturation, then contrast, each drawn per sample (DiffAugment's 'color')."""
    x = brightness(x, _uniform(x, -0.5, 0.5))
    x = saturation(x, _uniform(x, 0.0, 2.0))
    return contrast(x, _uniform(x, 0.5, 1.5))


def random_translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """An integer shift of up to ``ratio`` of each side, uniform, zero padding."""
    sy, sx = int(x.shape[2] * ratio + 0.5), int(x.shape[3] * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (x.shape[0],), device=x.device)
    dx = torch.randint(-sx, sx + 1, (x.shape[0],), device=x.device)
    return translate(x, dy, dx)


def random_cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """A ``ratio``-of-the-side rectangle set to 0, its centre uniform (DiffAugment's draw)."""
    h, w = int(x.shape[2] * ratio + 0.5), int(x.shape[3] * ratio + 0.5)
    # an even-sided hole may hang off either border by the same amount
    cy = torch.randint(0, x.shape[2] + 1 - h % 2, (x.shape[0],), device=x.device)
    cx = torch.randint(0, x.shape[3] + 1 - w % 2, (x.shape[0],), device=x.device)
    return cutout(x, cy, cx, (h, w))


def random_flip(x: Tensor) -> Tensor:
    """A horizontal flip of each sample with probability 1/2."""
    return flip(x, torch.rand(x.shape[0], device=x.device) < 0.5)


#: the operations a policy names, in DiffAugment's vocabulary (plus consistency's flip)
RANDOM_OPS: dict[str, Callable[[Tensor], Tensor]] = {
    "color": random_color,
    "translation": random_translation,
    "cutout": random_cutout,
    "flip": random_flip,
}


def parse_ops(text: str, known: Iterable[str], option: str) -> tuple[str, ...]:
    """Operation names from ``"a,b"`` or ``"a+b"`` (``+`` fits on the command line, where
    commas separate options); a ValueError names what is wrong."""
    known = list(known)
    names = tuple(n.strip() for n in text.replace("+", ",").split(",") if n.strip())
    if not names:
        raise ValueError(f"{option} is empty; name operations from {', '.join(known)}, "
                         f"e.g. {option}={'+'.join(known[:2])}")
    for name in names:
        if name not in known:
            hint = did_you_mean(name, known)
            raise ValueError(f"unknown operation '{name}' in {option};{hint or ''} "
                             f"choose from {', '.join(known)} (joined with +)")
    if len(set(names)) != len(names):
        raise ValueError(f"{option} names an operation twice: {text!r}")
    return names


def apply_ops(x: Tensor, names: Sequence[str]) -> Tensor:
    """``x`` through the named random operations, in order."""
    for name in names:
        x = RANDOM_OPS[name](x)
    return x


def require_images(shape: Sequence[int], technique: str) -> None:
    """A ValueError unless ``shape`` is one image's ``[C, H, W]``."""
    if len(shape) != 3:
        raise ValueError(f"{technique} works on images [C, H, W], but the data's samples have "
                         f"shape {tuple(shape)}; use it with an image dataset (digits, mnist, "
                         "cifar10), or instance-noise for vector data")
