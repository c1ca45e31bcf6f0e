"""core/ names no concrete technique outside docstrings and comments (DESIGN.md)."""

import ast
import re
from pathlib import Path

import ganagerie

TECHNIQUE = re.compile(r"wasserstein|spectral|feature.match|hinge|gradient.penalty|minimax",
                       re.IGNORECASE)


def _docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                yield body[0].value


def test_core_code_never_names_a_technique():
    core = Path(ganagerie.__file__).parent
    offenders = []
    for path in core.rglob("*.py"):
        tree = ast.parse(path.read_text())
        docs = {id(d) for d in _docstrings(tree)}
        for node in ast.walk(tree):
            text = None
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                text = node.value
            elif isinstance(node, ast.Name):
                text = node.id
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                text = node.name
            elif isinstance(node, ast.Attribute):
                text = node.attr
            if text and TECHNIQUE.search(text):
                offenders.append(f"{path.name}:{node.lineno}: {text[:60]!r}")
    assert not offenders, offenders
