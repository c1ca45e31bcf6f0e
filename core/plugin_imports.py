"""Importing plugin code: what a factory's source says without importing it, and an import
that leaves the process's global state as it found it.

``declared_options`` reads a lazily registered factory's options from its source, so that
``ganagerie list --json`` imports no torch. ``leaves_global_state`` wraps every import of a
plugin's code (entry points, ``"module:attr"`` factories): torch's default dtype, torch's
global RNG state and the ``GANAGERIE_*`` and ``OMP_NUM_THREADS`` environment variables are read
before and checked after; what a plugin changed is put back, with a warning naming it.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import inspect
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import UsageError
from .files import read_text


class PluginLoadWarning(UserWarning):
    """A plugin failed to load, clashed on a name, implements an unknown hook or changed global
    state when imported; the rest of ganagerie goes on."""


class PluginError(UsageError):
    """A plugin problem under ``GANAGERIE_STRICT_PLUGINS=1``."""


def strict_plugins() -> bool:
    """Whether ``GANAGERIE_STRICT_PLUGINS`` makes every plugin warning an error."""
    return os.environ.get("GANAGERIE_STRICT_PLUGINS", "") not in ("", "0")


def plugin_warning(message: str, strict: bool | None = None, stacklevel: int = 3) -> None:
    """A ``PluginLoadWarning``, or under strict plugins a ``PluginError``."""
    if strict_plugins() if strict is None else strict:
        raise PluginError(f"{message} (GANAGERIE_STRICT_PLUGINS is set)")
    warnings.warn(message, PluginLoadWarning, stacklevel=stacklevel)


# -- global state a plugin's import may change ------------------------------------------------

#: the environment variables a plugin must leave alone: ganagerie's own and the CPU threads
WATCHED_ENV = ("OMP_NUM_THREADS",)
WATCHED_PREFIX = "GANAGERIE_"


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(WATCHED_PREFIX) or k in WATCHED_ENV}


@contextlib.contextmanager
def leaves_global_state(who: str, strict: bool | None = None) -> Iterator[None]:
    """Import plugin code (``who`` names it) inside: what it changed of torch's default dtype,
    torch's global RNG state (where torch was imported before) and the watched environment
    variables is put back afterwards, with one warning naming ``who`` and what changed (an
    error under ``GANAGERIE_STRICT_PLUGINS``). torch is never imported here."""
    env = _environment()
    torch = sys.modules.get("torch")
    dtype = rng = None
    if torch is not None and hasattr(torch, "get_rng_state"):
        dtype, rng = torch.get_default_dtype(), torch.get_rng_state()
    try:
        yield
    finally:
        changed = _restore(env, dtype, rng)
    if changed:
        plugin_warning(f"plugin {who} changed {' and '.join(changed)} when imported; put back "
                       "(a plugin must leave global state as it found it)", strict, stacklevel=4)


def _restore(env: dict[str, str], dtype: Any, rng: Any) -> list[str]:
    """Put back what differs from the state read before; what it was, in words."""
    changed = []
    now = _environment()
    for key in sorted(set(env) | set(now)):
        if env.get(key) != now.get(key):
            shown = [repr(v[:40]) if v is not None else "unset" for v in (env.get(key), now.get(key))]
            changed.append(f"{key} ({shown[0]} -> {shown[1]})")
            if key in env:
                os.environ[key] = env[key]
            else:
                del os.environ[key]
    torch = sys.modules.get("torch")
    if torch is None or not hasattr(torch, "get_default_dtype"):
        return changed
    # imported by the plugin itself: torch's own default dtype; its RNG was seeded at random
    before = torch.float32 if dtype is None else dtype
    if torch.get_default_dtype() != before:
        changed.append(f"torch's default dtype ({before} -> {torch.get_default_dtype()})")
        torch.set_default_dtype(before)
    if rng is not None and not torch.equal(torch.get_rng_state(), rng):
        changed.append("torch's global RNG state (it seeded or drew from it)")
        torch.set_rng_state(rng)
    return changed


# -- a factory's options, from its source ------------------------------------------------------

#: the largest source file whose factory signatures are read without importing it
MAX_SOURCE = 2 * 2**20


def declared_options(target: str) -> dict[str, Any] | None:
    """The keyword options of the factory ``"module:attr"`` and their defaults, read from the
    sources without running them: a function, or a class with an ``__init__`` of its own or
    inherited from classes whose sources say it (a ``ganagerie.components`` contract has none),
    whose defaults are literals or module-level literal constants. None where the sources say
    less than that (the factory is then imported and inspected), so that this never answers
    differently from the import."""
    module, _, attr = target.partition(":")
    return None if "." in attr else _declared(module, attr, 0)


#: contracts define no ``__init__``: a class built on them alone takes no options
_CONTRACTS = "ganagerie.components"


@functools.cache
def _source(module: str) -> tuple[ast.Module, bool] | None:
    """A module's syntax tree and whether it is a package, read without importing it."""
    try:
        spec = importlib.util.find_spec(module)  # imports the parent packages, not the module
        if spec is None or not (spec.origin or "").endswith(".py"):
            return None
        return ast.parse(read_text(spec.origin, MAX_SOURCE)), spec.origin.endswith("__init__.py")
    except Exception:  # whatever keeps the source from being read: the factory is imported instead
        return None


def _declared(module: str, name: str, depth: int) -> dict[str, Any] | None:
    found = _source(module) if depth < 8 else None
    if found is None:
        return None
    tree, package = found
    top = {node.name: node for node in tree.body
           if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.decorator_list}
    node = top.get(name)
    if isinstance(node, ast.FunctionDef):
        return _parameters(node.args, 0, tree)
    if not isinstance(node, ast.ClassDef) or node.keywords:
        return None
    inits = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    if inits:
        return None if inits[0].decorator_list or len(inits) > 1 else _parameters(inits[0].args, 1, tree)
    if any(isinstance(n, (ast.Assign, ast.AnnAssign, ast.FunctionDef)) and _names_new(n) for n in node.body):
        return None
    bases = [_imported(b, tree, module, package) if isinstance(b, ast.Name) else None for b in node.bases]
    if not bases:
        return {}
    if any(b is None for b in bases):
        return None
    if all(m == _CONTRACTS for m, _ in bases):
        return {}
    if len(bases) > 1:
        return None
    return _declared(*bases[0], depth + 1)


def _names_new(node: ast.stmt) -> bool:
    """Whether a class-body statement defines what changes a class's signature (``__new__``,
    ``__signature__``, ``__call__``), so that its source does not say its options."""
    targets = getattr(node, "targets", [getattr(node, "target", None)])
    names = [node.name] if isinstance(node, ast.FunctionDef) else [
        t.id for t in targets if isinstance(t, ast.Name)]
    return any(n in ("__new__", "__signature__", "__call__") for n in names)


def _imported(base: ast.Name, tree: ast.Module, module: str, package: bool) -> tuple[str, str] | None:
    """Where the base class ``base`` is defined: (module, name), or None when unknown."""
    if any(isinstance(n, ast.ClassDef) and n.name == base.id for n in tree.body):
        return module, base.id
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == base.id:
                    parts = module.split(".") if package else module.split(".")[:-1]
                    anchor = parts[:len(parts) - node.level + 1] if node.level else []
                    return ".".join([*anchor, *([node.module] if node.module else [])]), alias.name
    return None


def _parameters(args: ast.arguments, skip: int, tree: ast.Module) -> dict[str, Any] | None:
    """The keyword parameters of a signature (the first ``skip`` dropped: ``self``) and their
    defaults, or None when a default is not a literal."""
    constants = {node.targets[0].id: node.value for node in tree.body if isinstance(node, ast.Assign)
                 and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)}
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    try:
        out = {a.arg: _literal(d, constants) for a, d in list(zip(positional, defaults))[skip:]
               if a not in args.posonlyargs}
        out.update((a.arg, _literal(d, constants)) for a, d in zip(args.kwonlyargs, args.kw_defaults))
    except ValueError:
        return None
    return out


def _literal(node: ast.expr | None, constants: Mapping[str, ast.expr]) -> Any:
    """A default's value: a literal, or a module-level constant holding one (ValueError else)."""
    if node is None:
        return inspect.Parameter.empty
    if isinstance(node, ast.Name):
        if node.id not in constants:
            raise ValueError(node.id)
        node = constants[node.id]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ValueError("not a literal") from None
