"""The contracts every component kind honours; plugins subclass these or duck-type them.

Each contract is small on purpose (one job per component):

* ``Loss``: the adversarial objective, a D side and a G side.
* ``Technique`` (registered as a regularizer, ``--reg NAME``): anything else that shapes
  training. It overrides only the extension points it needs: a change to the networks at
  build time, a penalty on either side, a transform of what D sees, an action after each
  update, the generator that samples, or the whole step.
* ``Optimizer``: builds a ``torch.optim.Optimizer`` for one network.
* ``Schedule``: the factor one network's learning rate is multiplied by at each step.
* ``Prior``: the generator's noise distribution.
* ``Architecture``: builds a generator and a discriminator for a data shape.
* ``Dataset``: describes its shape (and modes, where it has them) and loads splits.
* ``Metric``: scores generated samples against a dataset (``update``, ``compute``).
* ``Tracker``: mirrors what a run logs to an experiment tracker (``--track NAME``).

The trainer builds every component once per run and calls nothing else. Every method
called inside the training step must stay on the device: no ``.item()``, no printing, no
host sync. Randomness inside the step comes from torch's global RNG (``torch.rand``,
``torch.randn``... with ``device=``): the trainer seeds it and checkpoints it, so a run
and its resumption draw the same numbers.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .errors import PluginFault


class Prior:
    """The noise distribution ``z`` is drawn from; the standard normal unless replaced."""

    def sample(self, n: int, dim: int, device: torch.device,
               generator: torch.Generator | None = None) -> Tensor:
        """``n`` latent vectors ``[n, dim]`` on ``device``; ``generator`` (a CPU one) fixes them."""
        if generator is not None and generator.device != device:
            return torch.randn(n, dim, generator=generator).to(device)
        return torch.randn(n, dim, generator=generator, device=device)

    def quantile(self, u: Tensor) -> Tensor:
        """The latents at probabilities ``u`` in (0, 1), coordinate by coordinate (the inverse
        CDF); quasi-random evaluation latents (``ganagerie eval --latents sobol``) go through it.
        A prior that replaces ``sample`` replaces this too, or has no quasi-random latents."""
        return torch.special.ndtri(u)

    def sample_labels(self, n: int, num_classes: int, device: torch.device) -> Tensor:
        """The classes ``[n]`` a conditional generator is asked for in training: uniform over
        ``num_classes``, drawn from the global RNG (drawn only for conditional networks)."""
        return torch.randint(num_classes, (n,), device=device)


class Generator(nn.Module):
    """Maps noise ``z`` of shape ``[B, latent_dim]`` to samples ``[B, *shape]``.

    ``prior`` is set by the trainer from the run's ``prior`` component; every sampler
    (training, previews, evaluation) draws through ``sample_noise``.

    A conditional generator (``conditional = True``) is called ``G(z, y)`` with classes
    ``y`` ``[B]``; called as ``G(z)`` (previews, evaluation) it makes classes ``i % K`` for
    sample ``i``, so that every class is drawn equally and without randomness.
    """

    latent_dim: int
    prior: Prior = Prior()
    #: whether ``forward`` takes the classes to generate, ``G(z, y)``
    conditional: bool = False

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` latent vectors from the run's prior, on the generator's device."""
        device = next(self.parameters()).device
        return self.prior.sample(n, self.latent_dim, device, generator)


class Discriminator(nn.Module):
    """Scores samples; ``forward(x) == classify(features(x))``, one logit per sample.

    ``features`` exposes an intermediate layer (for feature matching and similar
    techniques), so that the trainer gets both with one forward pass.

    A conditional discriminator (``conditional = True``) takes the samples' classes too:
    ``features(x, y)``, ``classify(h, y)`` and ``D(x, y)`` (a projection discriminator reads
    them in ``classify``). The trainer passes the real batch's labels and the labels G was
    asked for.

    A discriminator with an auxiliary classifier (ACGAN) also has ``class_logits(h)``: logits
    ``[B, num_classes]`` over the classes from the same features ``[B, F]`` (the
    ``aux-classifier`` technique reads it; one that lacks it has no such method). One for
    ReACGAN's D2D-CE (the ``d2d-ce`` technique) has ``class_embedding(h)`` ``[B, E]``, a linear
    head on those features, and ``class_proxies()`` ``[K, E]``, one learned vector per class.
    """

    #: whether ``features``, ``classify`` and ``forward`` take the samples' classes
    conditional: bool = False

    @abstractmethod
    def features(self, x: Tensor) -> Tensor:
        """Intermediate features ``[B, F]`` of a batch."""

    @abstractmethod
    def classify(self, h: Tensor) -> Tensor:
        """Logits ``[B]`` from features ``[B, F]``."""

    def forward(self, x: Tensor, *y: Tensor) -> Tensor:
        return self.classify(self.features(x, *y), *y)


class Loss(ABC):
    """An adversarial objective. Both sides return a scalar to minimise.

    ``g_loss`` receives the discriminator's logits on the real batch as well; they are
    computed in the generator step (without gradient) only when ``g_needs_real`` is true,
    else they are None. Relativistic losses need them; most losses ignore them.
    A loss written before ``real_out`` existed (``g_loss(self, fake_out)``) still works.
    """

    #: whether ``g_loss`` reads ``real_out`` (costs one more D forward per G step)
    g_needs_real: bool = False

    @abstractmethod
    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        """The discriminator's loss from its logits on a real and a generated batch."""

    @abstractmethod
    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        """The generator's loss from D's logits on a generated (and the real) batch."""


class _Batch:
    """The batch axes of a step's tensors, for techniques that also run seed-batched.

    One run's tensors are ``[B, ...]`` (``batch_dims == 1``). A technique's hooks see that
    shape in a seed-batched step too (``ganagerie.train.batched``): each seed's hook is
    called on its own slice. Only a technique that declares ``seed_batched = True`` has its
    penalties and after-step hooks called once with the stacked context: tensors
    ``[S, B, ...]``, S seeds' batches stacked, ``batch_dims == 2``, networks that take and
    return stacked tensors, and penalties that return one value per seed, ``[S]``. Written
    with ``rand`` and ``batch_mean`` (and ``flatten(step.batch_dims)`` for per-sample sizes),
    such a technique works both ways.
    """

    batch_dims: int
    seed_rng: Any

    def rand(self, *per_sample: int, like: Tensor) -> Tensor:
        """Uniform [0, 1) noise of shape ``batch + per_sample``, on ``like``'s device and
        dtype, drawn from each seed's own RNG in a seed-batched step."""
        batch = like.shape[self.batch_dims - 1]
        draw = lambda: torch.rand((batch, *per_sample), device=like.device, dtype=like.dtype)  # noqa: E731
        return draw() if self.seed_rng is None else self.seed_rng.each(lambda _s: draw())

    def batch_mean(self, x: Tensor) -> Tensor:
        """The mean over the batch axis: a scalar per run (``[S]`` seed-batched) for per-sample
        values ``[*batch]``, a vector per run for ``[*batch, F]``."""
        return x.mean(dim=self.batch_dims - 1)


@dataclass
class DStep(_Batch):
    """What a technique sees during a discriminator update.

    ``real``/``fake`` are the samples; ``real_input``/``fake_input`` are what D was given
    after the run's input transforms (the same tensors when there are none, and by default).
    """

    generator: Generator
    discriminator: Discriminator
    real: Tensor
    fake: Tensor  # detached from the generator
    real_out: Tensor
    fake_out: Tensor
    # fields below have defaults, so that contexts can grow without breaking plugins
    z: Tensor | None = None
    step: int = 0  # generator updates done before this one (0 on the first step)
    real_input: Tensor | None = None
    fake_input: Tensor | None = None
    #: the update's loss and penalties, detached, set once the update is done (for the log)
    log: list[Tensor] | None = None
    batch_dims: int = 1  # 2 in a seed-batched step (see ``_Batch``)
    seed_rng: Any = None
    #: the classes of ``real`` and ``fake`` where the architecture is conditional, else None
    real_labels: Tensor | None = None
    fake_labels: Tensor | None = None
    #: the update's training-health values (``ganagerie.train.step.DIAGNOSTICS``), when measured
    diag: Tensor | None = None

    def __post_init__(self) -> None:
        # a context built by hand (a plugin's test) means D saw the samples themselves
        self.real_input = self.real if self.real_input is None else self.real_input
        self.fake_input = self.fake if self.fake_input is None else self.fake_input


@dataclass
class GStep(_Batch):
    """What a technique sees during a generator update."""

    generator: Generator
    discriminator: Discriminator
    real: Tensor  # a real batch (the last one the discriminator saw)
    fake: Tensor
    fake_features: Tensor  # discriminator.features(fake_input), with grad to the generator
    fake_out: Tensor
    z: Tensor | None = None
    step: int = 0
    real_out: Tensor | None = None  # D's logits on ``real``, when the loss asks for them
    fake_input: Tensor | None = None
    log: list[Tensor] | None = None
    batch_dims: int = 1
    seed_rng: Any = None
    real_labels: Tensor | None = None
    fake_labels: Tensor | None = None
    diag: Tensor | None = None

    def __post_init__(self) -> None:
        self.fake_input = self.fake if self.fake_input is None else self.fake_input


class Technique:
    """Shapes training beyond the loss; registered with ``register_regularizers``.

    One instance is built per run and used for everything below, in the order the
    techniques were given. Override only what the technique needs; a duck-typed object
    with some of these methods works the same. Penalties are returned already weighted,
    added to the objective and logged as ``d/NAME`` or ``g/NAME``.
    """

    #: whether its ``d_penalty``, ``g_penalty``, ``after_d_step`` and ``after_g_step`` also take
    #: seed-stacked contexts (``DStep.batch_dims == 2``), called once for all S seeds of a
    #: stack on the first seed's instance (faster than once per seed); such a technique keeps
    #: no per-seed state on ``self`` and draws its randomness with ``step.rand``. Without it
    #: (the default) every hook runs once per seed, on that seed's own instance and slice,
    #: which is correct for any technique. The kit checks both against one-by-one training.
    seed_batched: bool = False

    def periods(self) -> tuple[int, ...]:
        """The step counts after which what it does repeats (R1's lazy ``every``, ADA's
        ``interval``); the kit stops and resumes a run at a step that is a multiple of none
        of them, over enough steps for each to act after the resume. The default: none."""
        return ()

    def setup(self, generator: Generator, discriminator: Discriminator) -> None:
        """Change the networks once, at build time, before optimizers exist (spectral norm)."""

    def setup_optimizers(self, optimizer_g: torch.optim.Optimizer,
                         optimizer_d: torch.optim.Optimizer) -> None:
        """See the two optimizers once, after they are built and before a resumed run loads
        their state (to keep them, or to adjust their settings). A technique that overrides it
        trains one seed at a time (a seed stack steps other optimizers)."""

    def discriminator_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The sample shape D is built for, given the data's (PacGAN packs m samples into one;
        ``transform`` then reshapes batches to match). The default keeps ``shape``."""
        return shape

    def transform(self, x: Tensor, step: int) -> Tensor:
        """What the discriminator sees instead of ``x``, real and generated alike, on every
        D forward of the step; must be differentiable (DiffAugment, ADA, instance noise)."""
        return x

    def d_penalty(self, step: DStep) -> Tensor | None:
        """A scalar added to the discriminator's loss (gradient penalty, R1, LeCam)."""
        return None

    def g_penalty(self, step: GStep) -> Tensor | None:
        """A scalar added to the generator's loss (feature matching)."""
        return None

    def generator_logits(self, fake_out: Tensor, step: int) -> Tensor:
        """The logits on generated samples that the generator's loss is computed from
        (top-k keeps the k best-scored); differentiable. The default keeps them all."""
        return fake_out

    def after_d_step(self, step: DStep) -> None:
        """After each D optimizer step, without grad (weight clipping, running means, ADA's p)."""

    def after_g_step(self, step: GStep) -> None:
        """After each G optimizer step, without grad (generator EMA, schedules)."""

    def sampling_generator(self) -> Generator | None:
        """The generator to sample and evaluate with instead of the trained one (EMA)."""
        return None

    def train_step(self, run: StepRunner) -> Any:
        """Replace the step's order of updates (unrolled GAN), like the built-in orders
        ``alternating`` and ``simultaneous`` (``ganagerie.train.step.STEP_ORDERS``).

        Compose ``run.d_update`` and ``run.g_update`` (each does its loss, penalties,
        optimizer step and after-step hooks) and return ``run.log_row(d, g)`` of the last
        two. At most one technique of a run may replace the step. In a seed-batched step it
        is called once for the stack (``run`` is the stack's step), on the first seed's
        instance.
        """
        raise NotImplementedError

    def log_values(self) -> Mapping[str, Tensor | float]:
        """Values logged with every metrics row as ``NAME/key`` (read once per log window)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The technique's state, saved in the checkpoint (tensors, numbers, lists, dicts)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore ``state_dict``'s output on resume."""


#: 0.1's name of ``Technique``, kept so that 0.1 plugins import unchanged; documented nowhere
Regularizer = Technique

#: the extension points of a technique, in the order the trainer reaches them
TECHNIQUE_METHODS = ("discriminator_shape", "setup", "setup_optimizers", "transform", "d_penalty",
                     "g_penalty", "generator_logits", "after_d_step", "after_g_step",
                     "sampling_generator", "train_step", "log_values", "state_dict", "load_state_dict")


def implements(obj: Any, method: str) -> bool:
    """Whether ``obj`` provides ``method`` beyond ``Technique``'s do-nothing default."""
    found = getattr(type(obj), method, None)
    if found is None:
        found = getattr(obj, method, None)  # set on the instance
    return callable(found) and found is not getattr(Technique, method, None)


class StepRunner(ABC):
    """The updates a technique's ``train_step`` composes; ``ganagerie.train.step.Step``
    implements them, for one run and for a seed stack alike."""

    step: int
    generator: Generator
    discriminator: Discriminator
    loss: Loss
    #: D updates per step (the run's n_critic)
    n_critic: int
    #: the optimizers of G and D (an unrolled step saves and restores D's)
    optimizer_g: torch.optim.Optimizer
    optimizer_d: torch.optim.Optimizer

    @abstractmethod
    def next_real(self) -> Tensor:
        """The next real batch (its labels travel with it to the next update)."""

    @abstractmethod
    def noise(self) -> Tensor:
        """A batch of latent vectors from the prior (and, for conditional networks, classes)."""

    @abstractmethod
    def d_update(self, real: Tensor | None = None, z: Tensor | None = None,
                 fake: Tensor | None = None) -> DStep:
        """One D update (loss, penalties, optimizer step, after-D hooks); fresh data if None."""

    @abstractmethod
    def g_update(self, real: Tensor | None = None, z: Tensor | None = None,
                 fake: Tensor | None = None, apply: bool = True) -> GStep:
        """One G update (loss, penalties, optimizer step, after-G hooks); with ``apply=False``
        the gradients are left for ``apply_g``."""

    @abstractmethod
    def apply_g(self, g: GStep) -> GStep:
        """G's optimizer step from the gradients a ``g_update(apply=False)`` left, then the after-G hooks."""

    @abstractmethod
    def log_row(self, d: DStep, g: GStep) -> Any:
        """The step's result from its last D and G updates, what ``train_step`` returns."""


class Optimizer(ABC):
    """Builds the optimizer of one network from the run's learning rate and betas."""

    #: whether the update of each parameter element depends on that element alone (Adam,
    #: RMSprop): then one optimizer over S seeds' stacked parameters is S optimizers
    elementwise: bool = False

    @abstractmethod
    def build(self, params: Any, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
        """A fresh optimizer over ``params``; ``betas`` are the run's ``betas_g``/``betas_d``."""


class Schedule(ABC):
    """A learning-rate schedule: the factor one side's learning rate (the run's ``lr_g`` or
    ``lr_d``) is multiplied by at each step (``--set schedule_g=NAME``, ``schedule_d``).

    ``factor`` depends on its arguments and the options alone, never on state: a resumed run
    and the seeds of a stack then apply the learning rates a run trained straight through does.
    """

    @abstractmethod
    def factor(self, step: int, total_steps: int) -> float:
        """The factor in the step after ``step`` generator updates (0 first) of a run of
        ``total_steps``; 1 leaves the learning rate as the optimizer was built with it."""


class Architecture(ABC):
    """Builds a generator and a discriminator for data of a given shape.

    A ``build`` that also takes ``num_classes`` is told the dataset's number of classes (None
    for unlabelled data); conditional networks size their class embeddings by it.
    """

    @abstractmethod
    def build(self, shape: tuple[int, ...]) -> tuple[Generator, Discriminator]:
        """Return fresh, randomly initialised networks for samples of ``shape``."""


@dataclass
class DataSplit:
    """A whole split in memory: samples scaled as the generator outputs them, labels if any."""

    x: Tensor
    y: Tensor | None = None


class Dataset(ABC):
    """A source of real samples. Small datasets load whole; the trainer samples by index."""

    #: shape of one sample, e.g. ``(2,)`` or ``(1, 28, 28)``
    shape: tuple[int, ...]
    #: mode centres ``[M, *shape]`` for mixtures, else None
    centers: Tensor | None = None
    #: standard deviation of each mixture component, else None
    mode_std: float | None = None
    #: number of classes for labelled data, else None
    num_classes: int | None = None
    #: for data whose channels each hold a sample of another dataset (Stacked MNIST): that
    #: dataset; the class is the base classes read channel group by channel group, first most
    #: significant, so a classifier of the base data scores it
    stacked_from: Dataset | None = None

    @abstractmethod
    def load(self, split: str = "train") -> DataSplit:
        """Load a split ("train" or "test")."""

    def protocol(self) -> dict[str, Any]:
        """How the samples were made where the options do not say it (the size, filter and
        digest of the user's resized images); every evaluation records it. The default: {}."""
        return {}

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3


class Metric(ABC):
    """Scores a generator's samples against a dataset, torchmetrics-style.

    ``setup`` prepares what the metric needs from the real data (once);
    ``update`` takes batches of generated samples; ``compute`` returns named values;
    ``protocol`` states how they were measured (a number without it is not a result).
    A fresh instance is built for every evaluation; construction must stay cheap.
    ``setup``, ``update`` and ``compute`` run under ``torch.no_grad`` with a seeded global RNG.
    A factory option named ``backbone`` or ``inception_weights`` receives the evaluation's
    choice of feature network (see ``ganagerie.evaluation.backbones``), one named ``protocol``
    its named FID protocol (``ganagerie.evaluation.protocols``).
    """

    #: generated samples its published protocol uses; an evaluation draws the largest
    #: of its metrics' numbers unless the user gives one
    n_samples: int = 10_000
    #: what a dataset needs for this metric to apply, in words (for error messages)
    needs: str = ""
    #: whether an evaluation that names no metrics scores it where it applies; False for a
    #: metric asked for by name only (``fid-infinity``: 15 FIDs on 50,000 samples)
    by_default: bool = True
    #: whether it scores samples by the classes they were asked for: ``update(fake, labels)``
    #: then also receives those classes (long, ``[B]``; the evaluation asks class ``i % K`` of
    #: sample ``i``, every class equally). It applies to a conditional generator only; an
    #: evaluation of an unconditional one refuses it in one line.
    conditional: bool = False
    #: the range of each value that has one, ``{value: (low, high)}`` with None for an open
    #: side (FID: ``(0, None)``); a benchmark's interval over seeds never leaves it.
    #: ``value_ranges`` may narrow it once the metric has seen its dataset.
    value_range: dict[str, tuple[float | None, float | None]] = {}
    #: for each value that measures quality, whether higher is better (FID: ``{"fid": False}``);
    #: a benchmark ranks and compares by it, so suites need not restate it (a suite's own
    #: ``higher_is_better`` still wins). A value left out (a standard deviation) is reported,
    #: never ranked.
    higher_is_better: dict[str, bool] = {}

    def applies_to(self, dataset: Dataset) -> bool:
        """Whether the metric is meaningful for ``dataset``; the default metrics are those that are."""
        return True

    def setup(self, dataset: Dataset, device: torch.device) -> None:
        """Prepare references from the real data."""

    @abstractmethod
    def update(self, fake: Tensor) -> None:
        """Accumulate a batch of generated samples (and their classes, for a ``conditional`` metric)."""

    @abstractmethod
    def compute(self) -> dict[str, float]:
        """The metric's values."""

    def protocol(self) -> dict:
        """How the values were measured (backbone, sample counts, k, ...)."""
        return {}

    def value_ranges(self) -> dict[str, tuple[float | None, float | None]]:
        """The values' ranges after ``compute`` (a mode count lies in [0, the dataset's modes]);
        ``value_range`` unless overridden. The evaluation records them in its protocol."""
        return dict(self.value_range)


class Tracker(ABC):
    """Mirrors what a run logs to an experiment tracker (TensorBoard, MLflow, ...).

    The driver calls it outside the step, on the process that writes the run, with what it
    has just written: the config at the start, every metrics.jsonl row, every samples
    picture, and how the run ended. It writes only outside the run directory and changes
    nothing the run computes. An exception from any method costs one warning naming the
    tracker, which is then dropped; the run goes on. The factory must stay cheap (import
    the tracker's library in ``start``).
    """

    @abstractmethod
    def start(self, run_dir: Path, config: Mapping[str, Any], resume_step: int | None) -> None:
        """Begin tracking the run in ``run_dir`` (``config`` is its config.json). With
        ``resume_step`` the run was resumed from its checkpoint at that step: continue the
        tracked run this run directory had (a new one if there is none), where the rows after
        that step will be logged again with the same values."""

    @abstractmethod
    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """One metrics.jsonl row at ``step``: its numbers by key, nested keys joined by ``/``
        (``d_loss``, ``diag/d_gap``, ``eval/modes/modes``); non-finite values left out."""

    def log_image(self, step: int, name: str, path: Path) -> None:
        """A PNG the run wrote at ``step`` (``name`` is ``samples``); the default ignores it."""

    @abstractmethod
    def finish(self, status: str) -> None:
        """The run ended (``completed``, ``diverged``, ``failed`` or ``interrupted``): flush, close."""


def describe_value(value: Any) -> str:
    """What a component returned, for a message: a tensor's dtype and shape, else its type and
    the start of its repr (no host sync: a tensor's values are never read)."""
    if isinstance(value, Tensor):
        return f"a tensor of dtype {str(value.dtype).removeprefix('torch.')} and shape {tuple(value.shape)}"
    shown = repr(value)
    return f"{type(value).__name__} {shown[:60]}{'...' if len(shown) > 60 else ''}"


def expect_tensor(value: Any, kind: str, name: str, what: str, *, dims: int | None = None,
                  shape: tuple[int, ...] | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """``value`` where it is a floating-point tensor (of ``dims`` dimensions, of ``shape``, of
    ``dtype``) as the contract says; else a ``PluginFault`` naming the component and what it
    returned. Reads metadata only: no host sync inside the step."""
    if (isinstance(value, Tensor) and value.is_floating_point()
            and (dims is None or value.dim() == dims)
            and (shape is None or tuple(value.shape) == tuple(shape))
            and (dtype is None or value.dtype == dtype)):
        return value
    if shape is not None:
        want = "a scalar tensor" if not shape else f"a tensor of shape {tuple(shape)}"
    else:
        want = f"a tensor of {dims} dimension{'s' if dims != 1 else ''}" if dims is not None else "a tensor"
    want = f"{want} of floats" if dtype is None else f"{want} of {str(dtype).removeprefix('torch.')}"
    raise PluginFault(kind, name, f"{what} returned {describe_value(value)}, not {want}")


def generator_loss(loss: Any) -> Callable[[Tensor, Tensor | None], Tensor]:
    """``loss.g_loss`` as a function of ``(fake_out, real_out)``, for losses of either contract."""
    kinds = [p.kind for p in inspect.signature(loss.g_loss).parameters.values()]
    positional = sum(k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                     for k in kinds)
    if positional >= 2 or inspect.Parameter.VAR_POSITIONAL in kinds:
        return loss.g_loss
    return lambda fake_out, real_out: loss.g_loss(fake_out)
