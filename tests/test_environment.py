"""What a report records about where it was made."""

import subprocess

from ganagerie import __version__
from ganagerie.bench.environment import cpu_name, describe_environment, git_commit


def test_describe_environment():
    env = describe_environment()
    assert env["ganagerie"] == __version__ and env["torch"] and env["python"]
    assert any(p["provides"] for p in env["plugins"])
    assert cpu_name()


def test_git_commit_only_for_a_ganagerie_checkout(tmp_path):
    assert git_commit(tmp_path) is None  # not a repository
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
    assert git_commit(tmp_path) is None  # someone else's repository
