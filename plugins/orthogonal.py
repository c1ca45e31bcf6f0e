"""Orthogonal regularization of the generator, BigGAN's off-diagonal form (Brock, Donahue &
Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural Image Synthesis", ICLR;
sec. 3.1, eq. 3).

For each weight W of the generator, with its filters as columns::

    R_beta(W) = beta * || W^T W (*) (1 - I) ||_F^2

where (*) is the elementwise product and 1 the all-ones matrix: the filters are pushed
towards mutual orthogonality while their norms stay free (the diagonal is not penalised).
The paper uses beta = 1e-4, and found it makes G amenable to the truncation trick.

Every generator parameter with two or more dimensions is a weight (biases and norm scales
are left out; so are class embeddings, ``nn.Embedding`` tables, which BigGAN's code
blacklists as ``G.shared``), flattened to rows = output units, so the matrix penalised is the Gram
matrix of the output filters, W_rows W_rows^T: rows are dim 0 for linear and convolution
weights and dim 1 for transposed convolutions (whose weight is [in, out, ...]). The penalty
is a ``g_penalty``: it depends on G's parameters only and is added to G's loss. (The
authors' released code adds beta * 2 (W W^T (*) (1 - I)) W to the gradient directly, half
the gradient of the formula above; this follows the paper's formula.)
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from ganagerie.components import Generator, GStep, Technique

_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def filter_matrices(net: nn.Module) -> Iterator[Tensor]:
    """Each weight (2+ dims) of ``net`` as a matrix with one row per output unit; embedding
    tables are not filters and are left out."""
    transposed = {id(p) for m in net.modules() if isinstance(m, _TRANSPOSED) for p in m.parameters()}
    tables = {id(p) for m in net.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    for p in net.parameters():
        if p.dim() >= 2 and id(p) not in tables:
            yield (p.transpose(0, 1) if id(p) in transposed else p).flatten(1)


def off_diagonal_gram(w: Tensor) -> Tensor:
    """||W W^T (*) (1 - I)||_F^2 for ``w`` of shape [rows, columns]."""
    gram = w @ w.T
    # masked rather than (total - diagonal): no cancellation when the diagonal dominates
    off = gram * (1 - torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype))
    return off.square().sum()


class Orthogonal(Technique):
    """Off-diagonal orthogonal regularization of G's weights, beta = 1e-4 (Brock et al. 2019, BigGAN)."""

    def __init__(self, beta: float = 1e-4):
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.beta = beta

    def g_penalty(self, step: GStep) -> Tensor:
        return self.beta * penalty(step.generator)


def penalty(generator: Generator) -> Tensor:
    """The unweighted sum of the off-diagonal Gram penalties of ``generator``'s weights."""
    terms = [off_diagonal_gram(w) for w in filter_matrices(generator)]
    if not terms:
        raise ValueError("the generator has no weight with 2 or more dimensions to regularize")
    return torch.stack(terms).sum()
