"""docs/plugins.md documents the whole plugin API, its examples work, and README links it."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import shlex
import sys
import types
import warnings
from pathlib import Path

import click
import pytest

from ganagerie import components, hookspecs
from ganagerie.bench.suite import SUITE_ENTRY_POINT_GROUP, parse_suite
from ganagerie.cli import cli, main
from ganagerie.config import MIGRATION, PRESET_FIELDS
from ganagerie.plugin_loader import load_plugins
from ganagerie.testing import check_component

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
README = ROOT / "README.md"
CONTRACTS = (components.Technique, components.Loss, components.Metric, components.Optimizer,
             components.Schedule, components.Prior, components.StepRunner, components.Tracker)
#: contracts whose members must be documented, without a docstring rule (``forward`` is nn's)
NETWORKS_AND_DATA = (components.Architecture, components.Generator, components.Discriminator,
                     components.Dataset)
CONTEXTS = (components.DStep, components.GStep)
HOOKS = {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
         if hasattr(fn, "ganagerie_spec")}
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


def fenced(text: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block."""
    return FENCE.findall(text)


def inline_code(text: str) -> str:
    """The text of every inline code span outside fenced blocks, one per line."""
    return "\n".join(re.findall(r"`([^`\n]+)`", FENCE.sub("", text)))


def documented(name: str, code: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", code) is not None


def public_members(cls: type) -> dict[str, object]:
    """What a contract class defines for plugins: methods, class attributes and annotated
    attributes (``StepRunner.n_critic``), no private names."""
    out: dict[str, object] = {}
    for klass in cls.__mro__:
        if klass.__module__ == components.__name__:
            out.update({name: None for name in inspect.get_annotations(klass)})
            out.update(vars(klass))
    return {name: value for name, value in out.items() if not name.startswith("_")}


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def test_every_hook_has_a_docstring_and_is_documented(guide):
    assert len(HOOKS) >= 8
    code = inline_code(guide)
    for name, fn in HOOKS.items():
        assert (fn.__doc__ or "").strip(), f"hook {name} has no docstring"
        assert documented(name, code), f"hook {name} is not documented in docs/plugins.md"


def test_every_contract_method_has_a_docstring_and_is_documented(guide):
    code = inline_code(guide)
    for cls in CONTRACTS:
        members = public_members(cls)
        assert members, cls
        for name, value in members.items():
            where = f"{cls.__name__}.{name}"
            if inspect.isfunction(value):
                assert (value.__doc__ or "").strip(), f"{where} has no docstring"
            assert documented(name, code), f"{where} is not documented in docs/plugins.md"


def test_networks_datasets_and_step_contexts_are_documented(guide):
    code = inline_code(guide)
    for cls in NETWORKS_AND_DATA:
        for name in public_members(cls):
            assert documented(name, code), f"{cls.__name__}.{name} is not documented"
    for cls in CONTEXTS:
        for f in dataclasses.fields(cls):
            assert documented(f.name, code), f"{cls.__name__}.{f.name} is not documented"


def test_every_preset_field_is_documented(guide):
    code = inline_code(guide)
    assert "regularizers" in PRESET_FIELDS and "optimizer_d" in PRESET_FIELDS
    for name in PRESET_FIELDS:
        assert documented(name, code), f"preset field {name} is not documented in docs/plugins.md"


def test_readme_links_the_guide_and_its_example_uses_the_current_contract():
    text = README.read_text(encoding="utf-8")
    assert "](docs/plugins.md" in text, "README does not link docs/plugins.md"
    assert "](docs/plugins.md#migrating-from-ganagerie-01)" in text
    assert "def g_loss(self, fake_out, real_out=None)" in text


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_and_the_migration_anchor_resolve(guide):
    anchors = {slug(h) for h in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", guide), re.M)}
    path, _, anchor = MIGRATION.partition("#")
    assert ROOT / path == GUIDE and anchor in anchors, f"{MIGRATION} has no heading"
    for target in re.findall(r"\]\(([^)\s]+)\)", FENCE.sub("", guide)):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        if file:
            assert (GUIDE.parent / file).exists(), f"docs/plugins.md links a missing {file}"
        elif anchor:
            assert anchor in anchors, f"docs/plugins.md links a missing #{anchor}"


def command_lines(text: str) -> list[list[str]]:
    """The arguments of every `ganagerie ...` line of the shell blocks (env settings dropped)."""
    out = []
    for lang, code in fenced(text):
        if lang not in ("bash", "sh", "console", "shell"):
            continue
        for line in code.replace("\\\n", " ").splitlines():
            words = shlex.split(line.removeprefix("$ "), comments=True)
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                words.pop(0)
            if words and words[0] == "ganagerie":
                out.append(words[1:])
    return out


def parse(args: list[str]) -> tuple[str, ...]:
    """Parse a command line as click would run it, without running it; returns the command path."""
    cmd, path, rest = cli, [], list(args)
    while isinstance(cmd, click.Group):
        assert rest and rest[0] in cmd.commands, f"ganagerie {' '.join(args)}: no such command"
        path.append(rest.pop(0))
        cmd = cmd.commands[path[-1]]
    try:
        cmd.make_context("ganagerie " + " ".join(path), rest)
    except click.UsageError as exc:
        raise AssertionError(f"ganagerie {' '.join(args)}: {exc.format_message()}") from None
    return tuple(path)


def test_every_command_line_in_the_guide_parses(guide, capsys):
    lines = command_lines(guide)
    assert len(lines) >= 10
    paths = {parse(args) for args in lines}
    for path in sorted(paths):
        assert main([*path, "--help"]) == 0, f"ganagerie {' '.join(path)} --help"
    capsys.readouterr()


def test_code_blocks_are_valid_python_and_toml(guide):
    for lang, code in fenced(guide):
        if lang == "python":
            compile(code, "docs/plugins.md", "exec")
        elif lang == "toml":
            data = tomllib.loads(code)
            if "variants" in data:  # the suite example: keys and values as the harness reads them
                parse_suite(code, "docs/plugins.md")


def resolve(path: str) -> object:
    """The module or attribute a dotted ``ganagerie.x.y`` path names."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(path)


def test_every_module_and_name_the_guide_points_to_exists(guide):
    # the 0.1 column of the migration table names modules that are gone, by design
    text = re.sub(r"^\| `ganagerie[^|]*\|", "|", FENCE.sub("", guide), flags=re.M)
    paths = set(re.findall(r"\bganagerie(?:\.\w+)+", inline_code(text))) - {SUITE_ENTRY_POINT_GROUP}
    assert len(paths) >= 20
    for path in sorted(paths):
        try:
            resolve(path)
        except (ImportError, AttributeError):
            raise AssertionError(f"docs/plugins.md names {path}, which does not exist") from None
    for module, names in re.findall(r"`(ganagerie[\w.]*)` \(([^)]*)\)", text):
        for name in re.findall(r"`(\w+)`", names):
            assert hasattr(resolve(module), name), f"docs/plugins.md: {module} has no {name}"


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def as_module(name: str, code: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)
    return module


def test_the_walk_through_plugin_passes_its_tests_and_the_conformance_kit(guide, monkeypatch):
    blocks = [code for lang, code in fenced(section(guide, "## Your first plugin")) if lang == "python"]
    (plugin_code,) = [c for c in blocks if "@hookimpl" in c]
    (tests_code,) = [c for c in blocks if "def test_" in c]
    plugin = as_module("ganagerie_lookahead", plugin_code)
    monkeypatch.setitem(sys.modules, plugin.__name__, plugin)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # other plugins' clashes are not this test's business
        registry = load_plugins(extra=[plugin], strict=False).registry
    tests = as_module("test_lookahead", tests_code)
    # the walk-through's own tests, against a registry that holds its plugin (by qualified name,
    # should a built-in ever take the plain one)
    tests.check_component = lambda kind, name, **kw: check_component(
        kind, f"{plugin.__name__}:{name}", registry=registry, **kw)
    ran = [fn() for name, fn in vars(tests).items() if name.startswith("test_")]
    assert len(ran) == 2


def test_the_readme_plugin_passes_the_conformance_kit():
    text = section(README.read_text(encoding="utf-8"), "## Writing a plugin")
    (code,) = [c for lang, c in fenced(text) if lang == "python" and "@hookimpl" in c]
    plugin = as_module("ganagerie_readme_example", code)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry = load_plugins(extra=[plugin], strict=False).registry
    names = [e.qualified_name for e in registry.qualified["loss"].values()
             if e.provenance.plugin == plugin.__name__]
    assert len(names) == 1, names
    check_component("loss", names[0], registry=registry)


def test_readme_technique_table_is_the_registry(cli):
    code, out, _ = cli("list", "--markdown")
    assert code == 0
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    start = readme.index("<!-- techniques:start")
    body = readme[readme.index("\n", start) + 1: readme.index("<!-- techniques:end -->")]
    assert body.strip() == out.strip(), "README's technique table is stale: paste `ganagerie list --markdown`"


def hook_table_rows() -> list[str]:
    """The first three columns of docs/plugins.md's hook table, as
    ``ganagerie.hookspecs.EXTENSION_POINTS`` gives them (the fourth, the techniques that needed
    each point, is the guide's: core names no technique)."""
    rows = []
    for point in hookspecs.EXTENSION_POINTS:
        if point.contract is None:
            registers = f"a [preset](#{point.section}): a dict of run fields"
        else:
            article = "an" if point.contract[0] in "AEIOU" else "a"
            registers = f"{article} [`{point.contract}`](#{point.section})"
        rows.append(f"| `{point.hook}` | {registers} | {point.used_as} |")
    return rows


def test_the_hook_table_is_the_list_of_extension_points(guide):
    start = guide.index("| hook | registers | used as | the technique that needed it |\n|---|---|---|---|\n")
    table = guide[start:guide.index("\n\n", start)].splitlines()[2:]
    shown = ["|".join(row.split("|")[:4]) + "|" for row in table]
    assert shown == hook_table_rows(), ("docs/plugins.md's hook table differs from "
                                        "ganagerie.hookspecs.EXTENSION_POINTS; its rows begin:\n"
                                        + "\n".join(hook_table_rows()))
    assert all(row.count("|") == 5 and row.split("|")[4].strip() for row in table)  # and say who needed it
    kinds = section(guide, "## Testing a plugin")
    sentence = kinds[kinds.index("of that kind, one of"):kinds.index("(the kinds of")]
    assert re.findall(r'`"([a-z-]+)"`', sentence) == [p.kind for p in hookspecs.EXTENSION_POINTS]


def test_no_doc_shows_the_old_name_of_technique():
    # ``Regularizer`` stays importable for 0.1 plugins; nothing teaches it to new ones
    paths = [GUIDE, README, *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "core").rglob("*.py")),
             *sorted((ROOT / "plugins").glob("*.py"))]
    shown = [f"{path.relative_to(ROOT)}:{i}" for path in paths
             for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"\bRegularizer\b", line) and line != "Regularizer = Technique"]
    assert not shown, shown
    assert components.Regularizer is components.Technique
