"""The plugin API: every hook a ganagerie plugin can implement.

A plugin is a module (or object) with functions decorated by ``ganagerie.hookimpl``
and named after the hooks below. It is found through the ``ganagerie`` entry-point
group, the same group the built-in techniques use::

    [project.entry-points.ganagerie]
    my_loss = "ganagerie_my_loss"

Each hook is called once, at start-up, with a ``register`` callback::

    register(name, factory, help=None)

``name`` is what users type (``--loss NAME``); ``factory`` is called with the user's
options as keyword arguments (``--reg NAME:key=value``) and returns the component.
Its keyword parameters and their defaults are the component's options: defaults
are used to check and convert what the user typed. ``help`` is one line for
``ganagerie list``; it defaults to the first line of the factory's docstring.
``factory`` may also be ``"package.module:attr"``, imported the first time a component is
built or its options are checked: with ``help`` given, registration imports nothing, and
``ganagerie list`` starts without torch (docs/plugins.md, "Registering lazily").
The contracts each component honours are in ``ganagerie.components``.

Registration must stay cheap: register names and factories, build nothing.

Two plugins may register the same name: the first keeps the plain name (the built-ins,
then installed distributions by name, then plugins passed in code), a warning names both,
and each stays reachable as ``DISTRIBUTION:NAME`` (``ganagerie-foo:hinge``). A hook name
that is not below is warned about; ``GANAGERIE_STRICT_PLUGINS=1`` makes every such
warning an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import pluggy

hookspec = pluggy.HookspecMarker("ganagerie")
hookimpl = pluggy.HookimplMarker("ganagerie")


@dataclass(frozen=True)
class ExtensionPoint:
    """One kind of component a plugin registers. ``EXTENSION_POINTS`` is the one list of them:
    the registry's kinds, the plugin manager's hooks, the conformance kit's kinds and
    docs/plugins.md's hook table are all derived from it (a test compares the table)."""

    #: the kind as code and ``check_component`` name it: ``loss``
    kind: str
    #: the kind as users list it (``ganagerie list losses``); the hook is ``register_<plural>``
    plural: str
    #: the class of ``ganagerie.components`` its factories return, or None (a preset's dict)
    contract: str | None
    #: the docs/plugins.md section (anchor) that describes what its factories return
    section: str
    #: how a user chooses one
    used_as: str

    @property
    def hook(self) -> str:
        return f"register_{self.plural}"


# the techniques that needed each point are docs/plugins.md's to name: core names none
EXTENSION_POINTS = (
    ExtensionPoint("loss", "losses", "Loss", "loss", "`--loss NAME`"),
    ExtensionPoint("regularizer", "regularizers", "Technique", "technique", "`--reg NAME[:k=v,...]`"),
    ExtensionPoint("optimizer", "optimizers", "Optimizer", "optimizer",
                   "`--set optimizer_d=NAME` (`optimizer_g`)"),
    ExtensionPoint("schedule", "schedules", "Schedule", "schedule",
                   "`--set schedule_g=NAME[:k=v,...]` (`schedule_d`)"),
    ExtensionPoint("prior", "priors", "Prior", "prior", "`--set prior=NAME`"),
    ExtensionPoint("architecture", "architectures", "Architecture",
                   "architecture-generator-discriminator", "`--arch NAME`"),
    ExtensionPoint("dataset", "datasets", "Dataset", "dataset", "`--dataset NAME`"),
    ExtensionPoint("variant", "variants", None, "variant-presets", "`--variant NAME`"),
    ExtensionPoint("metric", "metrics", "Metric", "metric",
                   "`--eval-metrics NAME`, `ganagerie eval --metrics NAME`"),
    ExtensionPoint("tracker", "trackers", "Tracker", "tracker",
                   "`--track NAME[:k=v,...]` on `train` and `bench run`"),
)


@hookspec
def register_losses(register):
    """Register adversarial objectives: factories returning a ``components.Loss``."""


@hookspec
def register_regularizers(register):
    """Register techniques (``--reg NAME``): factories returning a ``components.Technique``.

    A technique overrides the extension points it needs: ``setup`` (spectral norm),
    ``d_penalty``/``g_penalty`` (gradient penalty, feature matching), ``transform``
    (DiffAugment, instance noise), ``after_d_step``/``after_g_step`` (weight clipping,
    generator EMA), ``train_step`` (unrolled GAN), with its state in ``state_dict``.
    """


@hookspec
def register_optimizers(register):
    """Register optimizers (``--set optimizer_d=NAME``): factories returning a ``components.Optimizer``.

    Adam is the default on both sides; weight-clipped WGAN trains with RMSprop.
    """


@hookspec
def register_schedules(register):
    """Register learning-rate schedules (``--set schedule_g=NAME``, ``schedule_d``): factories
    returning a ``components.Schedule``.

    ``constant`` is the default on both sides; SNGAN's code decays the learning rate linearly.
    """


@hookspec
def register_priors(register):
    """Register noise priors (``--set prior=NAME``): factories returning a ``components.Prior``."""


@hookspec
def register_architectures(register):
    """Register architectures: factories returning a ``components.Architecture``."""


@hookspec
def register_datasets(register):
    """Register datasets: factories returning a ``components.Dataset``."""


@hookspec
def register_variants(register):
    """Register variants: named presets, given as a dict of run-config fields.

    The factory takes no arguments and returns the preset, for example
    ``{"loss": "wasserstein", "regularizers": ["gradient-penalty"], "n_critic": 5}``.
    Every field of a preset can be overridden by the user.
    """


@hookspec
def register_metrics(register):
    """Register metrics: factories returning a ``components.Metric``."""


@hookspec
def register_trackers(register):
    """Register experiment trackers (``--track NAME``): factories returning a ``components.Tracker``.

    A tracker mirrors what a run logs (its metrics rows, samples, config and how it ended) to
    TensorBoard, MLflow and the like, outside the run directory; it changes nothing the run
    computes or writes. Import the tracker's library in ``start``, not at registration.
    """


def _check_hooks() -> None:
    """Every extension point has its hook below and every hook its extension point."""
    hooks = {name for name, fn in globals().items() if hasattr(fn, "ganagerie_spec")}
    listed = {point.hook for point in EXTENSION_POINTS}
    if hooks != listed:
        raise ImportError(f"ganagerie.hookspecs: hooks {sorted(hooks ^ listed)} are not both in "
                          "EXTENSION_POINTS and defined as a hook")


_check_hooks()
