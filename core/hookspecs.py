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
The contracts each component honours are in ``ganagerie.components``.

Registration must stay cheap: register names and factories, build nothing.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("ganagerie")
hookimpl = pluggy.HookimplMarker("ganagerie")


@hookspec
def register_losses(register):
    """Register adversarial objectives: factories returning a ``components.Loss``."""


@hookspec
def register_regularizers(register):
    """Register regularizers: factories returning a ``components.Regularizer``."""


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
