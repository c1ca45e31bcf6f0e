"""The command line: each command parses, calls one library function, prints.

Commands import what they use inside their function, so that ``ganagerie --help`` does
not load torch and the plugins (startup time, not import cycles).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import FaultError, PluginFault, UsageError, one_line, os_fault
from .evaluation.protocols import PROTOCOLS


def _registry():
    import warnings

    from .plugin_loader import PluginLoadWarning, get_registry

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginLoadWarning)
        registry = get_registry()
    for w in caught:  # one line each, not Python's file:line warning format
        if issubclass(w.category, PluginLoadWarning):
            click.echo(f"warning: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return registry


def _slow_plugins() -> None:
    """A ``note:`` line for each plugin that is slow to import (``list``, ``plugins``)."""
    from .plugin_loader import get_plugins

    for line in get_plugins().slow_imports():
        click.echo(f"note: {line}", err=True)


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show ganagerie's own warnings (a tracker that failed, a plugin that changed global state
    when a run imported it) as one ``warning:`` line each."""
    from .plugin_imports import PluginLoadWarning
    from .train.tracking import TrackerWarning

    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, (TrackerWarning, PluginLoadWarning)):
                click.echo(f"warning: {message}", err=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


class OnceCommand(click.Command):
    """A command whose single-valued options may be given once: a repeat is an error, not a
    silent override."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        single = {opt: p for p in self.params if isinstance(p, click.Option) and not p.multiple
                  for opt in p.opts}
        seen: dict[str, str] = {}
        for arg in args:
            if arg == "--":
                break
            opt = arg.split("=", 1)[0]
            if opt in single:
                name = single[opt].name
                if name in seen:
                    raise click.UsageError(f"{opt} is given twice; give it once", ctx)
                seen[name] = opt
        return super().parse_args(ctx, args)


class OnceGroup(click.Group):
    command_class = OnceCommand


SEED = click.IntRange(0, 2**63 - 1)


@click.group(cls=OnceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganagerie")
def cli() -> None:
    """ganagerie: a plugin-based zoo of GAN variants."""


@cli.command("list")
@click.argument("kind", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--markdown", is_flag=True, help="Print markdown tables (README's technique table).")
def list_cmd(kind: str | None, as_json: bool, markdown: bool) -> None:
    """List registered components (losses, regularizers, architectures, datasets, ...)."""
    from .registry import KINDS

    registry = _registry()
    _slow_plugins()
    kinds = list(KINDS)
    if kind is not None:
        singular = {plural: k for k, plural in KINDS.items()}
        if kind not in KINDS and kind not in singular:
            raise UsageError(f"unknown kind '{kind}'; choose from {', '.join(KINDS.values())}")
        kinds = [singular.get(kind, kind)]
    # every entry; one whose plain name another plugin took first is shown by its qualified name
    entries = [(registry.canonical(k, e.qualified_name), e)
               for k in kinds for e in sorted(registry.qualified[k].values(), key=lambda e: e.name)]
    if as_json:
        click.echo(json.dumps([{**e.as_json(), "name": shown} for shown, e in entries], indent=2))
        return
    if markdown:
        for k in kinds:
            rows = [(shown, e) for shown, e in entries if e.kind == k]
            if rows:
                click.echo(f"\n**{KINDS[k]}**\n\n| name | what (paper) | plugin |\n|---|---|---|")
            for shown, e in rows:
                help_text = e.help.replace("|", "\\|")
                click.echo(f"| `{shown}` | {help_text} | `{e.provenance.plugin}` |")
        return
    width = max((len(shown) for shown, _ in entries), default=0)
    for k in kinds:
        rows = [(shown, e) for shown, e in entries if e.kind == k]
        if rows:
            click.echo(f"{KINDS[k]}:")
        for shown, e in rows:
            click.echo(f"  {shown:<{width}}  {e.help}  [{e.provenance.describe()}]")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_cmd(as_json: bool) -> None:
    """List loaded plugins with their versions and what each provides."""
    from .plugin_loader import get_plugins

    _registry()  # shows plugin warnings once
    _slow_plugins()
    described = get_plugins().describe()
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    for p in described:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in p["provides"].items())
        click.echo(f"{p['name']} ({p['distribution']} {p['version']}): {provides}")


@cli.command("train")
@click.option("--dataset", help="Dataset name (ganagerie list datasets).")
@click.option("--variant", help="Preset: loss, regularizers, schedule. Default: vanilla.")
@click.option("--loss", help="Adversarial loss, overriding the variant's: NAME[:key=value,...].")
@click.option("--reg", "regs", multiple=True,
              help="Add a regularizer: NAME[:key=value,...]; repeatable; 'none' clears the variant's.")
@click.option("--arch", help="Architecture: NAME[:key=value,...]. Default: mlp or dcgan by data.")
@click.option("--steps", type=int, help="Generator updates.")
@click.option("--batch-size", type=int)
@click.option("--seed", type=SEED)
@click.option("--device", help="cpu, cuda, cuda:N or auto.")
@click.option("--threads", type=click.IntRange(1, 1024),
              help="Torch CPU threads (recorded; CPU results depend on it). Default: 1.")
@click.option("--compile", is_flag=True,
              help="torch.compile G and D (where it pays: benchmarks/speed_flags.py).")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]),
              help="bf16: the step's forwards under bfloat16 autocast. Default: fp32.")
@click.option("--set", "sets", multiple=True,
              help="Override a field: key=value (lr_d=1e-4, arch.width=32, reg.NAME.weight=5).")
@click.option("--out", help="Run directory to write.")
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              help="Train from a config.json (e.g. another run's) instead of flags.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--data-root", help="Where datasets that read files find them (sets GANAGERIE_DATA).")
@click.option("--download", is_flag=True, help="Allow torchvision datasets to download.")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option("--eval-every", type=int, help="Score the generator every N steps and at the end "
              "(rows with 'eval' in metrics.jsonl).")
@click.option("--eval-metrics", help="Metrics for --eval-every, comma-separated. Default: all that apply.")
@click.option("--eval-samples", type=int, help="Generated samples per evaluation. Default: the metrics'.")
@click.option("--track", "track", multiple=True,
              help="Mirror the run to an experiment tracker, outside the run directory: "
                   "NAME[:key=value,...]; repeatable (ganagerie list trackers).")
@click.pass_context
def train_cmd(ctx: click.Context, **kw) -> int:
    """Train one GAN run and write its run directory (across processes under torchrun:
    docs/distributed.md)."""
    from .train.distributed import session

    with session() as world:  # this process alone, unless torchrun started several
        return _train(ctx, kw, world.writes)


def _train(ctx: click.Context, kw: dict, writes: bool) -> int:
    from .config import load_config, resolve_config
    from .train.rundir import RunDir
    from .train.trainer import train, with_steps

    # where data lives and whether it may be downloaded: the command line or the environment only
    _use_data_root(kw["data_root"])
    if kw["download"]:
        os.environ["GANAGERIE_DOWNLOAD"] = "1"
    for flag in ("variant", "dataset", "loss", "arch", "device", "eval_metrics"):
        if kw[flag] is not None and not kw[flag].strip():
            raise UsageError(f"--{flag.replace('_', '-')} is empty; give a value or leave the flag out")
    if kw["out"] is not None:
        if not kw["out"].strip():
            raise UsageError("--out is empty; give the run directory to write")
        kw["out"] = Path(kw["out"])
    registry = _registry()
    given = {k for k in kw if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
    if kw["resume"]:
        if kw["out"] is None:
            raise UsageError("--resume needs --out DIR, the run to continue")
        extra = given - {"resume", "out", "steps", "quiet", "data_root", "download", "track"}
        if extra:
            flag = "--" + sorted(extra)[0].replace("_", "-")
            raise UsageError(f"--resume continues the run's own config; drop {flag} "
                             "(only --steps may change)")
        cfg_path = kw["out"] / "config.json"
        if not cfg_path.exists():
            raise UsageError(f"nothing to resume in {kw['out']}: it has no config.json")
        cfg = load_config(cfg_path)
        if kw["steps"] is not None:
            cfg = with_steps(cfg, kw["steps"], RunDir(kw["out"]))
    elif kw["config_file"] is not None:
        extra = given - {"config_file", "out", "quiet", "data_root", "download", "track"}
        if extra:
            raise UsageError(f"--config gives the whole run; drop --{sorted(extra)[0]} "
                             "or edit the file")
        cfg = load_config(kw["config_file"])
    else:
        if not kw["dataset"]:
            raise UsageError("train needs --dataset NAME (ganagerie list datasets)")
        cfg = resolve_config(
            registry,
            dataset=kw["dataset"],
            variant=kw["variant"] or "vanilla",
            loss=kw["loss"],
            arch=kw["arch"],
            regularizers=kw["regs"],
            overrides={"steps": kw["steps"], "batch_size": kw["batch_size"], "seed": kw["seed"],
                       "device": kw["device"], "threads": kw["threads"], "eval_every": kw["eval_every"],
                       "eval_metrics": kw["eval_metrics"], "eval_samples": kw["eval_samples"],
                       "compile": kw["compile"] or None, "precision": kw["precision"]},
            sets=kw["sets"],
        )
    out = kw["out"] or Path("runs") / f"{cfg.dataset.name}-{cfg.variant or cfg.loss.name}-s{cfg.seed}"
    quiet = kw["quiet"] or not writes  # under torchrun rank 0 alone shows progress and the result
    with _warnings_as_lines():
        result = train(cfg, registry, out, resume=kw["resume"], progress=False if quiet else None,
                       track=kw["track"])
    losses = ", ".join(f"{k}={v:.4g}" for k, v in result.last.items())
    if writes:
        click.echo(f"{result.status} at step {result.step}: {result.run_dir} ({losses})")
    return 1 if result.status == "diverged" else 0


def _use_data_root(value: str | None) -> None:
    """``--data-root``: where datasets that read files find them, for this process and the
    runs it starts (``GANAGERIE_DATA``); never from a file someone else wrote."""
    if value is not None:
        if not value.strip():
            raise UsageError("--data-root is empty; give the directory that holds the data")
        os.environ["GANAGERIE_DATA"] = value


DATA_ROOT = click.option("--data-root", help="Where the run's dataset files live, if it reads files "
                                             "(the --data-root it was trained with).")


@cli.command("sample")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-n", "n", type=click.IntRange(1, 10_000), default=64, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="PNG file to write.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--class", "label", type=int,
              help="Draw only class K (0-based), from a conditional generator.")
@DATA_ROOT
def sample_cmd(run_dir: Path, n: int, output: Path, seed: int, label: int | None,
               data_root: str | None) -> None:
    """Draw samples from a trained run into a PNG (image grid or scatter plot)."""
    from .runs import sample_run

    _use_data_root(data_root)
    sample_run(run_dir, _registry(), n, output, seed, label)
    click.echo(f"wrote {n} samples{'' if label is None else f' of class {label}'} to {output}")


@cli.command("eval")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--metrics", help="Comma-separated metric names (ganagerie list metrics). "
              "Default: the run's eval_metrics, i.e. all that apply to its dataset.")
@click.option("--n-samples", type=click.IntRange(2, 1_000_000),
              help="Generated samples. Default: the metrics'.")
@click.option("--seed", type=SEED, help="Seed of the noise and the metrics. Default: the run's seed.")
@click.option("--backbone", type=click.Choice(["auto", "classifier", "inception"]), default="auto",
              show_default=True, help="Feature network of image metrics.")
@click.option("--inception-weights", help="The FID Inception weights file (no download ever).")
@click.option("--fid-protocol", type=click.Choice(list(PROTOCOLS)),
              help="Named protocol of FID, KID, IS and fid-infinity: real split, sample count, "
              "resize and quantisation (benchmarks/README.md). Default: each metric's own.")
@click.option("--latents", type=click.Choice(["random", "sobol"]), default="random", show_default=True,
              help="Noise of the generated samples: the prior, or scrambled Sobol points through it.")
@click.option("--device", help="cpu, cuda or cuda:N. Default: the run's, when available.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@DATA_ROOT
def eval_cmd(run_dir: Path, metrics: str | None, n_samples: int | None, seed: int | None, backbone: str,
             inception_weights: str | None, fid_protocol: str | None, latents: str, device: str | None,
             as_json: bool, data_root: str | None) -> None:
    """Score a trained run with metric plugins and write RUN_DIR/eval.json."""
    from .runs import EVAL_FILE, evaluate_run

    _use_data_root(data_root)
    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    result = evaluate_run(run_dir, _registry(), names, n_samples, seed, device=device,
                          backbone=backbone, inception_weights=inception_weights,
                          protocol=fid_protocol, latents=latents)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for name, values in result["metrics"].items():
        click.echo(f"{name}: " + "  ".join(f"{k}={v:.4g}" for k, v in values.items()))
    proto = result["protocol"]
    for line in _feature_networks(proto["metrics"]):
        click.echo(line)
    for name, entry in proto["metrics"].items():
        differs = entry.get("differs_from_protocol") if isinstance(entry, dict) else None
        if differs:
            click.echo(f"{name} not as protocol {entry['fid_protocol']['name']}: {'; '.join(differs)}")
    click.echo(f"({proto['n_generated']} generated samples, seed {proto['seed']}, {proto['device']}, "
               f"{proto['time_s']:.1f}s) -> {Path(run_dir) / EVAL_FILE}")


def _feature_networks(metrics: dict[str, Any]) -> list[str]:
    """One line per feature network the metrics used: which, and how well the domain
    classifier reads held-out data (it bounds what FID and class modes can mean)."""
    used: dict[str, tuple[dict[str, Any], list[str]]] = {}  # one entry per distinct network
    for name, proto in metrics.items():
        info = proto.get("backbone") if isinstance(proto, dict) else None
        if isinstance(info, dict):
            used.setdefault(json.dumps(info, sort_keys=True), (info, []))[1].append(name)
    lines = []
    for info, names in used.values():
        if info.get("name") == "classifier":
            what = (f"a classifier trained on {info.get('train_samples')} training images, "
                    f"{100 * info.get('accuracy', 0):.1f}% right on {info.get('test_samples')} held out")
            if "accuracy_stacked" in info:
                what += f" ({100 * info['accuracy_stacked']:.1f}% of held-out stacks read right)"
            if info.get("weights"):
                what += f", weights {info['weights']}"
        elif info.get("name") == "inception":
            what = f"FID Inception ({info.get('weights')}, resize {info.get('resize')}" + (
                ", 8-bit input)" if info.get("quantise") else ", float input)")
        else:
            what = str(info.get("name"))
        lines.append(f"features for {', '.join(names)}: {what}")
    return lines


@cli.group("bench", cls=OnceGroup)
def bench_group() -> None:
    """Benchmark suites: every (dataset, variant, seed), statistics over seeds, a report."""


@bench_group.command("list")
@click.argument("paths", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_list_cmd(paths: tuple[str, ...], as_json: bool) -> None:
    """List the installed suites, or the suites of the given names or .toml paths."""
    from .bench.suite import list_suites, load_suite

    suites = [load_suite(p) for p in paths] if paths else list_suites()
    if as_json:
        click.echo(json.dumps([s.summary() for s in suites], indent=2))
        return
    width = max((len(s.name) for s in suites), default=0)
    for s in suites:
        info = s.summary()
        click.echo(f"{s.name:<{width}}  {info['runs']:>3} runs  {s.description}")


@bench_group.command("run")
@click.argument("suite")
@click.option("--out", type=click.Path(path_type=Path),
              help="Output directory; rerun with the same one to finish an interrupted suite. "
                   "Default: runs/bench/SUITE.")
@click.option("--seeds", type=int, help="Run seeds 0..N-1 instead of the suite's.")
@click.option("--jobs", type=int, help="Runs in parallel processes. Default: one per core on CPU.")
@click.option("--threads", type=int,
              help="Torch CPU threads per run (CPU results depend on it). Default: cores / jobs.")
@click.option("--steps", type=int, help="Generator updates of every run, instead of the suite's.")
@click.option("--set", "sets", multiple=True, help="Override a field of every run: key=value.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where runs execute: processes on this machine, or a Ray cluster "
                   "(pip install 'ganagerie[ray]').")
@click.option("--address", help="Ray cluster to join (ray://HOST:PORT or auto); default: a local Ray "
                                "instance. Only with --executor ray.")
@click.option("--batch-seeds", type=click.Choice(["auto", "on", "off"]),
              help="Train the seeds of a (dataset, variant) together in one process where every "
                   "component allows it; auto (the default for a new suite): where it was measured "
                   "to pay. A rerun keeps what the suite started with.")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option("--track", "track", multiple=True,
              help="Mirror the run to an experiment tracker, outside the run directory: "
                   "NAME[:key=value,...]; repeatable (ganagerie list trackers).")
@click.option("--data-root", help="Where the suite's datasets that read files find them (sets "
                                  "GANAGERIE_DATA); local runs only.")
@click.option("--yes", is_flag=True, help="Start a benchmark of more than 1,000 runs.")
def bench_run_cmd(suite: str, out: Path | None, seeds: int | None, jobs: int | None,
                  threads: int | None, steps: int | None, sets: tuple[str, ...], executor: str,
                  address: str | None, batch_seeds: str | None, quiet: bool,
                  track: tuple[str, ...], data_root: str | None, yes: bool) -> int:
    """Run a suite (built-in name or .toml path) and write report.md, report.html, results.json."""
    from .bench.harness import outcome_summary, run_suite
    from .bench.suite import load_suite

    _use_data_root(data_root)  # the worker processes inherit it
    parsed = load_suite(suite)
    out = out or Path("runs") / "bench" / parsed.name
    if address and executor != "ray":
        raise UsageError("--address names a Ray cluster; add --executor ray")
    options = dict(seeds=seeds, steps=steps, sets=sets, jobs=jobs, threads=threads,
                   progress=False if quiet else None, executor=executor, address=address,
                   batch_seeds=batch_seeds, track=track)
    with _warnings_as_lines():
        if parsed.search is not None:
            from .bench.search import run_search  # Optuna: an optional extra, imported when used

            outcomes = run_search(parsed, out, _registry(), **options)
        else:
            outcomes = run_suite(parsed, out, _registry(), **options, yes=yes)
    for o in outcomes:
        if o.status == "failed":
            click.echo(f"failed: {o.key}: {o.error}", err=True)
    s = outcome_summary(outcomes)
    click.echo(f"{s['runs']} runs: {s['completed']} completed, {s['diverged']} diverged, "
               f"{s['failed']} failed ({s['reused']} were already done); report: "
               f"{out / 'report.md'}, {out / 'report.html'}")
    if s["failed"]:
        click.echo("rerun the same command to retry the failed runs", err=True)
    return 1 if s["failed"] else 0


@bench_group.command("report")
@click.argument("out", type=click.Path(path_type=Path))
def bench_report_cmd(out: Path) -> None:
    """Rewrite the report of a benchmark directory from its runs."""
    from .bench.report import write_report

    results = write_report(out, _registry())
    click.echo(f"wrote {out / 'report.md'}, {out / 'report.html'}, {out / 'results.json'} "
               f"({results['content_hash']})")


@bench_group.command("plan")
@click.argument("report_dir", type=click.Path(path_type=Path))
@click.option("--baseline", help="The variant to compare with. Default: the suite's baseline.")
def bench_plan_cmd(report_dir: Path, baseline: str | None) -> int:
    """The seeds each comparison with the baseline needs, from a finished (pilot) study.

    Reads REPORT_DIR/results.json (a `bench run --out`, or a committed report) and prints, for
    every variant against the baseline on every metric with a direction, its verdict and the
    seeds that would decide a difference of the observed size with 80% power.
    """
    from .bench.plan import plan_seeds

    for line in plan_seeds(report_dir, _registry(), baseline):
        click.echo(line)
    return 0


@bench_group.command("verify")
@click.argument("report_dir", type=click.Path(path_type=Path))
@click.option("--runs", "runs", multiple=True,
              help="Only runs whose key matches: DATASET/VARIANT/seed-N, * and ? allowed; repeatable.")
@click.option("--out", type=click.Path(path_type=Path), help="Where to re-run. Default: a temp dir.")
@click.option("--jobs", type=int, help="Runs in parallel processes.")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option("--data-root", help="Where your copy of the runs' dataset files is, for datasets that "
                                  "read files (sets GANAGERIE_DATA).")
@click.option("--batch-seeds", type=click.Choice(["recorded", "off"]), default="recorded",
              show_default=True,
              help="off: re-train every run alone, for a report from before runs recorded which "
                   "seeds trained together, whose seeds trained one by one.")
def bench_verify_cmd(report_dir: Path, runs: tuple[str, ...], out: Path | None, jobs: int | None,
                     quiet: bool, data_root: str | None, batch_seeds: str) -> int:
    """Re-run the runs recorded in a report's results.json and print what differs."""
    from .bench.verify import verify

    _use_data_root(data_root)
    differences, where, n = verify(report_dir, _registry(), runs=runs, out=out, jobs=jobs,
                                   progress=False if quiet else None, batch_seeds=batch_seeds)
    for line in differences:
        click.echo(line)
    if differences:
        from .bench.verify import machine_note

        click.echo(machine_note(report_dir, batch_seeds))
    verdict = f"{len(differences)} differences" if differences else "all match"
    click.echo(f"verified {n} run{'s' if n != 1 else ''} against {report_dir / 'results.json'}: "
               f"{verdict} (re-run in {where})")
    return 1 if differences else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point. Exit codes: 0 done; 1 a run diverged, runs failed, a plugin broke its
    contract (one line naming it) or verify found differences; 2 a usage error (bad input),
    one line on stderr; 3 a fault of the machine (disk full, read-only, permissions), one
    line on stderr; 130 interrupted."""
    try:
        rv = cli.main(args=argv, prog_name="ganagerie", standalone_mode=False)
    except click.UsageError as exc:
        if os.environ.get("RANK", "0") != "0":  # under torchrun: rank 0 says it for all
            return 2
        cmd = exc.ctx.command_path if exc.ctx else "ganagerie"
        click.echo(f"error: {one_line(exc.format_message())} ({cmd} --help)", err=True)
        return 2
    except UsageError as exc:
        click.echo(f"error: {one_line(str(exc))}", err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"error: {one_line(exc.format_message())}", err=True)
        return exc.exit_code
    except FaultError as exc:
        click.echo(f"error: {one_line(str(exc))}", err=True)
        return 3
    except PluginFault as exc:  # a component broke its contract: the run failed, its plugin is named
        click.echo(f"error: {one_line(str(exc))}", err=True)
        return 1
    except OSError as exc:  # the disk's fault anywhere else (eval, sample, report)
        click.echo(f"error: {one_line(str(os_fault(exc)))}", err=True)
        return 3
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return 130
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
