"""Named protocols of the Inception metrics (FID, KID, IS, FID-infinity): what a published
number was measured against, and how its images reached the network.

A protocol fixes the reference set (the training or the test split, whole), the number of
generated samples, and how an image in [-1, 1] becomes the FID Inception's 299x299 input:
whether it is first quantised to 8 bits (as an image saved to PNG is) and which resize
(``ganagerie.evaluation.backbones.inception_input``, the one function every Inception metric
uses):

* ``legacy-tensorflow``: TF 1.x bilinear (``align_corners=False``, no half-pixel centres), the
  resize inside the TF Inception graph of the original TTUR code, on 8-bit values;
* ``legacy-pytorch``: ``torch.nn.functional.interpolate(mode="bilinear",
  align_corners=False)``, as pytorch-fid's ``InceptionV3(resize_input=True)`` does;
* ``clean``: PIL's bicubic in float32, channel by channel, clipped to [0, 255] and not
  quantised again (clean-fid's ``mode="clean"``, Parmar et al. 2022).

A metric takes one with its option ``protocol`` (``--metrics fid:protocol=mimicry``,
``ganagerie eval --fid-protocol mimicry`` for every metric that takes it); each result
records it, its settings and where the evaluation did not follow it. Only the FID Inception
is resized: the domain classifier reads images at the data's own size, and a result on it
says so (its numbers are comparable with each other, never with published ones).

This module is plain data (no torch): the command line reads its names for ``--help``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import did_you_mean

RESIZES = ("legacy-tensorflow", "legacy-pytorch", "clean")
RESIZE_TEXT = {
    "legacy-tensorflow": "TF1 bilinear to 299x299, align_corners=False (the TF Inception graph's own)",
    "legacy-pytorch": "torch bilinear interpolate to 299x299, align_corners=False (pytorch-fid)",
    "clean": "PIL bicubic to 299x299 in float32 per channel, clipped, not re-quantised (clean-fid)",
}


@dataclass(frozen=True)
class Protocol:
    """A named evaluation protocol of the Inception metrics."""

    name: str
    #: the real split the generated samples are compared with, whole: "train" or "test"
    reference: str
    #: generated samples it calls for; None: the metric's own default
    n_generated: int | None
    #: one of ``RESIZES``
    resize: str
    #: whether generated images are rounded to 8 bits before the resize
    quantise: bool
    #: where it comes from, and where we differ from it
    source: str

    @property
    def published(self) -> bool:
        """Whether it is another project's protocol (whose numbers need the FID Inception)."""
        return self.name != "default"

    def record(self) -> dict:
        """The protocol as every result records it."""
        return asdict(self)


PROTOCOLS = {p.name: p for p in (
    Protocol("default", "train", None, "legacy-tensorflow", True,
             "ganagerie's default: the whole training split, the metric's own sample count "
             "(10,000 for FID, KID and IS), 8-bit images resized as the TF Inception graph does"),
    Protocol("mimicry", "train", 50_000, "legacy-tensorflow", True,
             "Mimicry (Lee & Town 2020) CIFAR-10: 50k generated vs the 50k training images, the "
             "TTUR TF Inception graph fed 8-bit images (its own bilinear resize); IS on 10 splits. "
             "Mimicry rescales each batch by its own min and max before rounding; we map [-1, 1]"),
    Protocol("studiogan-v0.3", "test", 10_000, "legacy-pytorch", False,
             "StudioGAN v0.3 (Kang & Park 2020) CIFAR-10: 10k generated vs the 10k test images, "
             "pytorch-fid's Inception (bilinear resize of float images, not quantised). StudioGAN "
             "computes IS once on all samples; ours keeps the metric's splits"),
    Protocol("clean", "train", 50_000, "clean", True,
             "clean-fid (Parmar et al. 2022) mode 'clean' against the whole training split "
             "(its cifar10 'train' statistics), 50k generated: 8-bit images, PIL bicubic in float"),
)}


def get_protocol(name: str) -> Protocol:
    """The protocol named ``name`` ("" is ``default``); a ValueError names the choices."""
    protocol = PROTOCOLS.get(name or "default")
    if protocol is None:
        hint = did_you_mean(name, PROTOCOLS) or ""
        raise ValueError(f"unknown protocol {name!r};{hint} choose from {', '.join(PROTOCOLS)}")
    return protocol
