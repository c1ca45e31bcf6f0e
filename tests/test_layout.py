"""The package's layout: arrows point down (no import cycle), and every module imports alone."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import ganagerie

CORE = Path(ganagerie.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(CORE.rglob("*.py")):
        parts = list(path.relative_to(CORE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["ganagerie", *parts])] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, bool]]:
    """(imported ganagerie module, whether the import sits inside a function)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if n is not f}
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for t in targets:
            if t in known and t != name:
                found.append((t, id(node) in nested))
    return found


def test_no_import_cycle_and_no_import_inside_a_function_but_the_cli():
    mods = _modules()
    graph = {m: {t for t, _ in _imports(m, p, set(mods))} for m, p in mods.items()}
    inside = [(m, t) for m, p in mods.items() for t, nested in _imports(m, p, set(mods))
              if nested and m != "ganagerie.cli"]
    assert not inside, f"imports inside functions: {inside}"
    # the plugins subpackage is not part of the core package's layout
    graph = {m: {t for t in ts if not t.startswith("ganagerie.plugins")} for m, ts in graph.items()
             if not m.startswith("ganagerie.plugins")}
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            # a package's __init__ importing its own submodule is not an arrow upward
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, m, t]))
            if t not in state:
                visit(t, [*path, m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


def test_layout_shows_the_architecture():
    names = set(_modules())
    for module in ("ganagerie.hookspecs", "ganagerie.components", "ganagerie.testing",
                   "ganagerie.train.trainer", "ganagerie.evaluation.score", "ganagerie.runs",
                   "ganagerie.bench.harness", "ganagerie.bench.report"):
        assert module in names, module


def test_every_module_imports_alone_in_a_fresh_interpreter():
    mods = [m for m in _modules() if not m.startswith("ganagerie.plugins") and not m.endswith("__main__")]
    # One interpreter imports the third-party libraries once, then forks a child per module
    # that imports that module alone: the project's modules are fresh in every child, so an
    # import that works only after another of ours is caught (as with one interpreter each).
    script = textwrap.dedent("""
        import importlib, os, sys
        import click, numpy, pluggy, scipy.stats, torch  # third-party: shared by the children
        assert not [m for m in sys.modules if m.split(".")[0] == "ganagerie"]
        failed = []
        for m in sys.argv[1:]:
            pid = os.fork()
            if pid == 0:
                try:
                    importlib.import_module(m)
                except BaseException as exc:
                    print(f"{m}: {type(exc).__name__}: {exc}", flush=True)
                    os._exit(1)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            if status:
                failed.append(m)
        sys.exit(1 if failed else 0)
    """)
    r = subprocess.run([sys.executable, "-c", script, *mods], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
