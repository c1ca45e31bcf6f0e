"""Feature networks for image metrics, and the base of every metric that uses one.

A backbone maps images in [-1, 1] to penultimate features (FID, KID, precision/recall,
density/coverage) and class logits (Inception Score, class modes). Two kinds:

* ``inception``: the standard FID Inception-v3 (TF 2015-12-05 weights, through
  torch-fidelity), when the weights are on this machine; nothing is downloaded.
* ``classifier``: a small CNN trained on the dataset's own train split, the approach of
  MNIST-FID in the literature. Training is deterministic and on the CPU; the weights are
  cached under ``$GANAGERIE_CACHE`` (default ``~/.cache/ganagerie``), keyed by a hash of the
  data and ``CLASSIFIER_VERSION``, with their test accuracy.

``auto`` picks Inception for images of side 32 or more when its weights are found,
otherwise the classifier; for unlabelled data, which has no classifier, Inception at any
size. Every backbone states itself in ``info`` for the protocol.

Images reach the Inception through ``inception_input`` alone: 8-bit quantisation (or not)
and the resize to 299x299 of a named protocol (``ganagerie.evaluation.protocols``).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import locks
from ..components import Dataset, DataSplit, Metric
from ..errors import UsageError
from ..files import write_with
from .protocols import RESIZE_TEXT, RESIZES, get_protocol

BACKBONES = ("auto", "classifier", "inception")

#: bump when the classifier's architecture or training changes: old caches are then ignored
CLASSIFIER_VERSION = 1
CLASSIFIER_BATCH = 64
CLASSIFIER_MIN_STEPS = 600
CLASSIFIER_FEATURES = 128

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"
#: Inception features mean little on tiny images (8x8 digits): ``auto`` keeps the classifier there
INCEPTION_MIN_SIDE = 32


def cache_dir() -> Path:
    """Where trained classifiers are kept: ``$GANAGERIE_CACHE`` or ``~/.cache/ganagerie``."""
    return Path(os.environ.get("GANAGERIE_CACHE") or "~/.cache/ganagerie").expanduser()


class Backbone(nn.Module):
    """Images in [-1, 1] ``[B, C, H, W]`` -> (features ``[B, F]``, class logits ``[B, K]``)."""

    feature_dim: int
    num_classes: int

    def __init__(self) -> None:
        super().__init__()
        #: how the backbone was made (name, weights, accuracy...): goes into every protocol
        self.info: dict[str, Any] = {}
        self._memo: list[tuple[tuple, Tensor, tuple[Tensor, Tensor]]] = []

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def embed(self, x: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
        """Features and logits of ``x`` on the backbone's device, batched and without grad.

        The last few inputs are remembered by identity, so metrics that share a generated
        batch or the real split run the network on it once.
        """
        key = (id(x), x._version, x.data_ptr(), tuple(x.shape))
        for k, ref, out in self._memo:
            if k == key and ref is x:
                return out
        device = self.device
        feats, logits = [], []
        with torch.no_grad():
            for i in range(0, x.shape[0], batch_size):
                f, lg = self(x[i : i + batch_size].to(device))
                feats.append(f)
                logits.append(lg)
        out = (torch.cat(feats), torch.cat(logits))
        self._memo = [*self._memo[-2:], (key, x, out)]
        return out


class DomainClassifier(nn.Module):
    """A small CNN: conv stages halving the side down to 4 or less, pooled to the features."""

    def __init__(self, shape: tuple[int, ...], num_classes: int, width: int = 32):
        super().__init__()
        channels, height, width_px = shape
        layers: list[nn.Module] = []
        ch_in, ch = channels, width
        while True:
            layers += [nn.Conv2d(ch_in, ch, 3, padding=1), nn.ReLU()]
            ch_in = ch
            if min(height, width_px) <= 4:
                break
            layers.append(nn.MaxPool2d(2))
            height, width_px, ch = height // 2, width_px // 2, min(ch * 2, 256)
        # the last map is at most 4x4: flattening it keeps where the strokes are, which small
        # images need (pooling it away cost the 8x8 digits several points of accuracy)
        self.body = nn.Sequential(*layers, nn.Flatten(),
                                  nn.Linear(ch_in * height * width_px, CLASSIFIER_FEATURES), nn.ReLU())
        self.head = nn.Linear(CLASSIFIER_FEATURES, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x)
        return h, self.head(h)


class ClassifierBackbone(Backbone):
    """A trained ``DomainClassifier`` as a backbone."""

    def __init__(self, net: DomainClassifier, info: dict[str, Any]):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.feature_dim = CLASSIFIER_FEATURES
        self.num_classes = net.head.out_features
        self.info = info

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.net(x)


class StackedBackbone(Backbone):
    """Scores data stacked from a base dataset channel group by channel group.

    Features are the base features of each group side by side; the logits of the joint
    class (first group most significant) are the sums of the groups' log-probabilities,
    i.e. the groups are classified independently, as in the Stacked MNIST protocol.
    """

    def __init__(self, base: Backbone, groups: int):
        super().__init__()
        self.base, self.groups = base, groups
        self.feature_dim = base.feature_dim * groups
        self.num_classes = base.num_classes**groups

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feats, joint = [], None
        for part in x.chunk(self.groups, dim=1):
            f, lg = self.base(part)
            feats.append(f)
            lp = lg.log_softmax(dim=1)
            joint = lp if joint is None else (joint[:, :, None] + lp[:, None, :]).flatten(1)
        return torch.cat(feats, dim=1), joint


# -- the Inception's input: quantisation and resize ----------------------------------------

INCEPTION_SIDE = 299


def resize_weights(n_in: int, n_out: int, resize: str) -> Tensor:
    """The ``[n_out, n_in]`` float64 matrix of a 1-D resize (``resize`` in ``RESIZES``):
    every resize of a protocol is linear and separable, ``H @ image @ W.T``.

    Each follows its library's own arithmetic: TF 1.x bilinear samples at ``i * n_in / n_out``
    and torch's at ``(i + 0.5) * n_in / n_out - 0.5`` (cut at 0), both in float32 and
    between the two nearest pixels (no antialiasing when shrinking); PIL's bicubic (a = -0.5)
    centres its kernel at ``(i + 0.5) * n_in / n_out`` in float64, widened by the factor
    when shrinking, over the pixels it covers, normalised to sum 1.
    """
    if resize not in RESIZES:
        raise ValueError(f"unknown resize {resize!r}; choose from {', '.join(RESIZES)}")
    scale = n_in / n_out
    out = torch.zeros(n_out, n_in, dtype=torch.float64)
    if resize == "clean":
        stretch = max(scale, 1.0)
        for i in range(n_out):
            centre = (i + 0.5) * scale
            lo = max(int(centre - 2 * stretch + 0.5), 0)
            hi = min(int(centre + 2 * stretch + 0.5), n_in)
            w = _pil_cubic((torch.arange(lo, hi, dtype=torch.float64) - centre + 0.5) / stretch)
            out[i, lo:hi] = w / w.sum()
        return out
    i = torch.arange(n_out, dtype=torch.float32)
    at = i * scale if resize == "legacy-tensorflow" else ((i + 0.5) * scale - 0.5).clamp_min(0)
    lo = at.long()
    frac = (at - lo).double()
    rows = torch.arange(n_out)
    out.index_put_((rows, lo), 1 - frac, accumulate=True)
    out.index_put_((rows, (lo + 1).clamp_max(n_in - 1)), frac, accumulate=True)
    return out


def _pil_cubic(x: Tensor, a: float = -0.5) -> Tensor:
    x = x.abs()
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return torch.where(x < 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


def inception_input(x: Tensor, resize: str = "legacy-tensorflow", quantise: bool = True) -> Tensor:
    """Images in [-1, 1] ``[B, 1 or 3, H, W]`` -> the FID Inception's input: RGB
    ``[B, 3, 299, 299]`` float32 in [0, 255], as the named protocols make it.

    ``quantise`` first rounds to the 8-bit value a PNG would hold (``floor(v + 0.5)``, as
    torchvision's ``save_image`` does); the resize (``resize_weights``) runs in float and its
    result is clipped to [0, 255], never quantised again (TF's bilinear stays in range by
    itself). Grey images are repeated to RGB.
    """
    v = (x.detach().float().clamp(-1, 1) + 1) * 127.5
    if quantise:
        v = (v + 0.5).floor().clamp_max(255)
    if v.shape[1] == 1:
        v = v.expand(-1, 3, -1, -1)
    h = resize_weights(v.shape[2], INCEPTION_SIDE, resize).to(v)
    w = resize_weights(v.shape[3], INCEPTION_SIDE, resize).to(v)
    return (h @ v @ w.T).clamp(0, 255)


#: torch-fidelity's FeatureExtractorInceptionV3 blocks, in the order its forward runs them
INCEPTION_BLOCKS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1", "Conv2d_3b_1x1",
                    "Conv2d_4a_3x3", "MaxPool_2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
                    "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c",
                    "AvgPool")


class InceptionBackbone(Backbone):
    """The standard FID Inception-v3 of torch-fidelity: pool features (2048) and logits (1008).

    torch-fidelity's own forward takes uint8 images and resizes them itself (TF1 bilinear);
    here the network's blocks run on ``inception_input``'s float 299x299 images instead, so
    that every protocol's quantisation and resize is ours, in one function.
    """

    def __init__(self, net: nn.Module, info: dict[str, Any], resize: str = "legacy-tensorflow",
                 quantise: bool = True):
        super().__init__()
        self.net = net
        self.feature_dim, self.num_classes = 2048, 1008
        self.resize, self.quantise = resize, quantise
        self.info = {**info, "resize": resize, "quantise": quantise}

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = inception_input(x, self.resize, self.quantise).to(self.net.fc.weight.dtype)
        h = (h - 128) / 128  # the TF graph's normalisation
        for name in INCEPTION_BLOCKS:
            h = getattr(self.net, name)(h)
        feats = h.flatten(1)
        # torch-fidelity's "logits_unbiased": the classifier without its bias (for IS)
        return feats.float(), (feats @ self.net.fc.weight.T).float()


# -- choosing and building --------------------------------------------------------------

_loaded: dict[tuple, Backbone] = {}
_keys: weakref.WeakKeyDictionary[Dataset, str] = weakref.WeakKeyDictionary()


def get_backbone(
    dataset: Dataset,
    device: torch.device | str = "cpu",
    kind: str = "auto",
    inception_weights: str | None = None,
    *,
    resize: str = "legacy-tensorflow",
    quantise: bool = True,
) -> Backbone:
    """The backbone for ``dataset`` on ``device`` (``kind``: auto, classifier or inception).

    ``resize`` and ``quantise`` say how images reach the Inception (``inception_input``);
    the classifier reads them as they are. Classifiers are trained on first use and then
    read from the cache; built backbones are also kept for the life of the process.
    """
    if kind not in BACKBONES:
        raise UsageError(f"unknown backbone '{kind}'; choose from {', '.join(BACKBONES)}")
    if not dataset.is_image:
        raise UsageError(f"image metrics need images [C, H, W]; this dataset's samples have shape "
                         f"{tuple(dataset.shape)} (ganagerie list metrics)")
    if kind == "auto":
        kind = "inception" if inception_weights or _inception_suits(dataset) else "classifier"
    if kind == "inception":
        path = _inception_path(inception_weights)
        if resize not in RESIZES:
            raise UsageError(f"unknown resize '{resize}'; choose from {', '.join(RESIZES)}")
        key: tuple = ("inception", str(path), resize, quantise)
        build = lambda: load_inception(path, resize, quantise)  # noqa: E731
    else:
        base = _base(dataset)
        if base not in _keys:  # hashing MNIST takes a while; a dataset object's data does not change
            _keys[base] = data_key(base)
        data = _keys[base]
        key = ("classifier", data, tuple(dataset.shape))
        build = lambda: classifier_backbone(dataset, data)  # noqa: E731
    key = (*key, str(torch.device(device)))
    if key not in _loaded:
        _loaded[key] = build().to(device)
    return _loaded[key]


def _base(dataset: Dataset) -> Dataset:
    return dataset.stacked_from if dataset.stacked_from is not None else dataset


def _inception_suits(dataset: Dataset) -> bool:
    # small images have the classifier, unless there are no labels to train one on
    if min(dataset.shape[1:]) < INCEPTION_MIN_SIDE and _base(dataset).num_classes:
        return False
    try:
        import torch_fidelity  # noqa: F401
    except ImportError:
        return False
    return _inception_path(None, must_exist=False).is_file()


def _inception_path(given: str | None, must_exist: bool = True) -> Path:
    """The Inception weights: the given path, ``$GANAGERIE_INCEPTION_WEIGHTS``, or torch's cache."""
    given = given or os.environ.get("GANAGERIE_INCEPTION_WEIGHTS")
    path = Path(given).expanduser() if given else Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if must_exist and not path.is_file():
        raise UsageError(
            f"standard Inception weights not found at {path}; download {INCEPTION_URL} on a machine "
            "with internet and pass --inception-weights FILE (or set GANAGERIE_INCEPTION_WEIGHTS), "
            "or use --backbone classifier"
        )
    return path


def load_inception(path: Path, resize: str = "legacy-tensorflow", quantise: bool = True
                   ) -> InceptionBackbone:
    """torch-fidelity's FID Inception with the weights in ``path``; never downloads."""
    try:
        import torch_fidelity.feature_extractor_inceptionv3 as tfi
    except ImportError:
        raise UsageError("the Inception backbone needs torch-fidelity: pip install "
                         "'ganagerie[inception]', or use --backbone classifier") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UsageError(f"cannot read Inception weights {path} ({type(exc).__name__}: {exc}); "
                         f"download {INCEPTION_FILE} again") from None
    # torch-fidelity would unpickle a weights file with weights_only=False (pickles can run
    # code), or download one: hand it the state dict loaded safely above instead.
    original = tfi.load_state_dict_from_url
    tfi.load_state_dict_from_url = lambda *args, **kwargs: state
    try:
        net = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"])
    except RuntimeError:  # load_state_dict lists every key: too long for a one-line error
        raise UsageError(f"{path} does not hold the FID Inception weights ({INCEPTION_FILE}); "
                         "pass the right file to --inception-weights") from None
    finally:
        tfi.load_state_dict_from_url = original
    info = {"name": "inception", "weights": INCEPTION_FILE if path.name == INCEPTION_FILE else str(path),
            "feature_dim": 2048, "features": "pool3 (2048)", "logits": "logits_unbiased (1008)"}
    return InceptionBackbone(net, info, resize, quantise)


_NO_LABELS = ("the classifier backbone needs class labels and this dataset has none; give the data "
              "class labels, or use the FID Inception: pip install 'ganagerie[inception]' and pass "
              "--backbone inception --inception-weights FILE")


def data_key(dataset: Dataset) -> str:
    """A hash of a labelled dataset's splits and the classifier version: the cache key."""
    if not dataset.num_classes:
        raise UsageError(_NO_LABELS)
    h = hashlib.sha256(f"v{CLASSIFIER_VERSION}:{tuple(dataset.shape)}:{dataset.num_classes}".encode())
    for split in ("train", "test"):
        data = dataset.load(split)
        for t in (data.x, data.y):
            if t is None:
                raise UsageError(_NO_LABELS)
            h.update(str(tuple(t.shape)).encode())
            h.update(t.detach().cpu().contiguous().numpy())
    return h.hexdigest()


def classifier_backbone(dataset: Dataset, key: str | None = None) -> Backbone:
    """The dataset's classifier (of its base data, for stacked data), trained or from the cache."""
    base = _base(dataset)
    key = key or data_key(base)
    path = cache_dir() / "classifiers" / f"{type(base).__name__.lower()}-{key[:16]}.pt"
    net = DomainClassifier(tuple(base.shape), base.num_classes)
    info = _read_cached(path, net, key)
    if info is None:
        # two processes that need one classifier (bench workers, two evals) train it once:
        # the second waits for the first's cache file
        with locks.locked(path.parent, "classifier training", "", wait=True):
            info = _read_cached(path, net, key)
            if info is None:
                net, info = train_classifier(base.load("train"), base.load("test"), tuple(base.shape),
                                             base.num_classes)
                info = {**info, "key": key[:16]}
                state = {"version": CLASSIFIER_VERSION, "key": key, "info": info,
                         "state_dict": net.state_dict()}
                write_with(path, lambda fh: torch.save(state, fh))
    backbone: Backbone = ClassifierBackbone(net, info)
    if dataset.stacked_from is not None:
        groups = dataset.shape[0] // base.shape[0]
        backbone = StackedBackbone(backbone, groups)
        test = dataset.load("test")
        logits = backbone.embed(test.x)[1]
        backbone.info = {**info, "stacked_groups": groups,
                         "accuracy_stacked": round((logits.argmax(1) == test.y).float().mean().item(), 4)}
    return backbone


def _read_cached(path: Path, net: DomainClassifier, key: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("version") != CLASSIFIER_VERSION or state.get("key") != key:
            return None
        net.load_state_dict(state["state_dict"])
        info = dict(state["info"])
    except Exception:  # a damaged or foreign cache file is retrained over, not trusted
        return None
    # trained before the thread count was fixed (it may be another network), or edited
    if info.get("threads") != 1 or info.get("weights") != weights_digest(net):
        return None
    return info


def train_classifier(
    train: DataSplit, test: DataSplit, shape: tuple[int, ...], num_classes: int, seed: int = 0
) -> tuple[DomainClassifier, dict[str, Any]]:
    """Train a ``DomainClassifier`` deterministically on the CPU; returns it and its record."""
    # an evaluation runs under no_grad and a seeded RNG: training needs grad and its own seed
    with torch.random.fork_rng(devices=[]), torch.enable_grad(), _one_thread():
        torch.manual_seed(seed)
        net = DomainClassifier(shape, num_classes)
        g = torch.Generator().manual_seed(seed)
        n = train.x.shape[0]
        steps = max(CLASSIFIER_MIN_STEPS, 3 * math.ceil(n / CLASSIFIER_BATCH))
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
        net.train()
        for _ in range(steps):
            idx = torch.randint(n, (CLASSIFIER_BATCH,), generator=g)
            _, logits = net(_jitter(train.x[idx], g))
            loss = F.cross_entropy(logits, train.y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        net.eval().requires_grad_(False)
    with torch.no_grad():
        pred = torch.cat([net(x)[1].argmax(1) for x in test.x.split(1000)])
    accuracy = (pred == test.y).float().mean().item()
    info = {"name": "classifier", "version": CLASSIFIER_VERSION, "accuracy": round(accuracy, 4),
            "feature_dim": CLASSIFIER_FEATURES, "num_classes": num_classes,
            "train_samples": n, "test_samples": int(test.x.shape[0]), "steps": steps, "seed": seed,
            "threads": 1, "weights": weights_digest(net)}
    return net, info


def weights_digest(net: nn.Module) -> str:
    """The first 16 hex digits of a SHA-256 over a network's parameters and buffers: which
    classifier scored a result, recorded with it."""
    h = hashlib.sha256()
    for name, t in net.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Train on one CPU thread, whatever the caller's count, restoring it after.

    The classifier defines every metric computed on its features, so its weights must not
    depend on who trained it first: a CPU reduction split over more threads sums in another
    order. mnist-5k's classifier trained at 2 threads differs from the one at 1, and moved a
    run's FID from 1767 to 1743. One thread costs 20 s instead of 12 there, once per machine
    (the cache keeps it). On small images it is also the faster: their ops are too small to
    share, and on a busy machine each op waited for a descheduled thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _jitter(x: Tensor, g: torch.Generator) -> Tensor:
    """Shift a batch by up to one pixel: the classifier then also reads imperfect samples."""
    dx, dy = torch.randint(-1, 2, (2,), generator=g).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


# -- the base of backbone metrics -----------------------------------------------------


class BackboneMetric(Metric):
    """A metric on images in a backbone's feature space, against a whole real split.

    ``protocol`` names how it is measured (``ganagerie.evaluation.protocols``): the real
    split, the generated samples it calls for (its ``n_samples``) and how images reach the
    Inception. A subclass whose factory takes ``protocol`` gets ``ganagerie eval
    --fid-protocol``; one that counts its generated samples in ``n`` has the count checked.
    """

    needs = "images"

    def __init__(self, backbone: str = "auto", inception_weights: str = "", protocol: str = ""):
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {backbone!r}")
        self.backbone_kind, self.inception_weights = backbone, inception_weights
        self.named_protocol = get_protocol(protocol)
        if self.named_protocol.n_generated:
            self.n_samples = self.named_protocol.n_generated
        self.backbone: Backbone | None = None
        self.real: DataSplit | None = None

    def applies_to(self, dataset: Dataset) -> bool:
        return dataset.is_image

    def setup(self, dataset: Dataset, device: torch.device) -> None:
        p = self.named_protocol
        self.backbone = get_backbone(dataset, device, self.backbone_kind, self.inception_weights or None,
                                     resize=p.resize, quantise=p.quantise)
        self.real = dataset.load(p.reference)

    def protocol(self) -> dict[str, Any]:
        n_real = None if self.real is None else int(self.real.x.shape[0])
        info = None if self.backbone is None else dict(self.backbone.info)
        return {"backbone": info, "real": f"{self.named_protocol.reference} split", "n_real": n_real,
                **self.protocol_followed()}

    def protocol_followed(self) -> dict[str, Any]:
        """The named protocol, how images reached the backbone, and where this evaluation
        did not follow the protocol (``differs_from_protocol``: empty when it did)."""
        p = self.named_protocol
        inception = self.backbone is not None and self.backbone.info.get("name") == "inception"
        if inception:
            images = f"{'8-bit' if p.quantise else 'float, not quantised'}; {RESIZE_TEXT[p.resize]}"
        else:
            images = "as generated, at the data's own size: the domain classifier has no resize"
        differs = []
        if p.published and self.backbone is not None and not inception:
            differs.append("backbone: the domain classifier, not the FID Inception (numbers comparable "
                           "with others on the same classifier only, never with published ones)")
        n = getattr(self, "n", None)
        if p.n_generated and self.backbone is not None and n is not None and n != p.n_generated:
            differs.append(f"n_generated: {n} drawn, the protocol calls for {p.n_generated}")
        return {"fid_protocol": p.record(), "images": images, "differs_from_protocol": differs}
