"""Start-up time of the commands that only read names: ``--help``, ``list`` (``--json`` too),
``plugins``, ``bench list``.

    python benchmarks/startup.py [--repeats 5] [--bare]

Each command runs as a fresh subprocess, ``PYTHON -m ganagerie ARGS``, once to warm the file
cache and then ``--repeats`` times; the median wall time is reported, with the command. By
default PYTHON is a throwaway virtual environment that inherits this one and has
examples/ganagerie-dragan installed, as a user installs a plugin (offline: no index, no
build isolation); ``--bare`` times this environment as it is. Target: under 0.3 s each, on
an idle machine. Which modules a command imports is a test (tests/test_cli.py), not a timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import site
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ganagerie-dragan"
COMMANDS = (["--help"], ["list"], ["list", "--json"], ["plugins"], ["bench", "list"])
PURELIB = "import sysconfig; print(sysconfig.get_path('purelib'))"


def with_example(root: Path) -> Path:
    """A virtual environment under ``root`` inheriting this one, with the example plugin installed."""
    source = root / EXAMPLE.name
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # --system-site-packages reaches the base interpreter's packages only: add this one's
    ours = [d for d in site.getsitepackages() if d not in site.getsitepackages([sys.base_prefix])]
    if ours:
        purelib = subprocess.run([str(python), "-c", PURELIB], check=True,
                                 capture_output=True, text=True).stdout.strip()
        (Path(purelib) / "_outer_environment.pth").write_text(
            "".join(f"import site; site.addsitedir({d!r})\n" for d in ours))
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                    "--no-cache-dir", "--quiet", str(source)], check=True,
                   env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return python


def time_command(python: Path | str, args: list[str], repeats: int, cwd: Path) -> list[float]:
    cmd = [str(python), "-m", "ganagerie", *args]
    times = []
    for i in range(repeats + 1):  # the first warms the file cache and is not counted
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bare", action="store_true", help="This environment, without the example plugin.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ganagerie-startup-") as tmp:
        root = Path(tmp)
        python = sys.executable if args.bare else with_example(root)
        where = "this environment" if args.bare else f"a venv with {EXAMPLE.name} installed"
        print(f"python: {python} ({where}); median of {args.repeats}, after one warm-up run")
        for cmd in COMMANDS:
            times = time_command(python, cmd, args.repeats, root)
            shown = " ".join(["python", "-m", "ganagerie", *cmd])
            print(f"{shown:<34} median {statistics.median(times):.3f} s  "
                  f"(min {min(times):.3f}, max {max(times):.3f})")


if __name__ == "__main__":
    main()
