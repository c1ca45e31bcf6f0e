"""The command line: each command parses, calls one library function, prints."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .errors import UsageError


def _registry():
    from .plugin_loader import get_registry

    return get_registry()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganagerie")
def cli() -> None:
    """ganagerie: a plugin-based zoo of GAN variants."""


@cli.command("list")
@click.argument("kind", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(kind: str | None, as_json: bool) -> None:
    """List registered components (losses, regularizers, architectures, datasets, ...)."""
    from .registry import KINDS

    registry = _registry()
    kinds = list(KINDS)
    if kind is not None:
        singular = {plural: k for k, plural in KINDS.items()}
        if kind not in KINDS and kind not in singular:
            raise UsageError(f"unknown kind '{kind}'; choose from {', '.join(KINDS.values())}")
        kinds = [singular.get(kind, kind)]
    entries = [e for k in kinds for e in sorted(registry.entries[k].values(), key=lambda e: e.name)]
    if as_json:
        click.echo(json.dumps([e.as_json() for e in entries], indent=2))
        return
    width = max((len(e.name) for e in entries), default=0)
    for k in kinds:
        rows = [e for e in entries if e.kind == k]
        if rows:
            click.echo(f"{KINDS[k]}:")
        for e in rows:
            click.echo(f"  {e.name:<{width}}  {e.help}  [{e.provenance.plugin}]")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_cmd(as_json: bool) -> None:
    """List loaded plugins with their versions and what each provides."""
    from .plugin_loader import get_plugins

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
@click.option("--seed", type=int)
@click.option("--device", help="cpu, cuda, cuda:N or auto.")
@click.option("--set", "sets", multiple=True,
              help="Override a field: key=value (lr_d=1e-4, arch.width=32, reg.NAME.weight=5).")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory to write.")
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              help="Train from a config.json (e.g. another run's) instead of flags.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--data-root", help="Where torchvision datasets live.")
@click.option("--download", is_flag=True, help="Allow torchvision datasets to download.")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.pass_context
def train_cmd(ctx: click.Context, **kw) -> None:
    """Train one GAN run and write its run directory."""
    from .config import load_config, resolve_config
    from .trainer import train

    registry = _registry()
    given = {k for k in kw if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
    if kw["resume"]:
        if kw["out"] is None:
            raise UsageError("--resume needs --out DIR, the run to continue")
        extra = given - {"resume", "out", "steps", "quiet", "data_root", "download"}
        if extra:
            flag = "--" + sorted(extra)[0].replace("_", "-")
            raise UsageError(f"--resume continues the run's own config; drop {flag} "
                             "(only --steps may change)")
        cfg_path = kw["out"] / "config.json"
        if not cfg_path.exists():
            raise UsageError(f"nothing to resume in {kw['out']}: it has no config.json")
        cfg = load_config(cfg_path)
        if kw["steps"] is not None:
            cfg.steps = kw["steps"]
    elif kw["config_file"] is not None:
        extra = given - {"config_file", "out", "quiet", "data_root", "download"}
        if extra:
            raise UsageError(f"--config gives the whole run; drop --{sorted(extra)[0]} "
                             "or edit the file")
        cfg = load_config(kw["config_file"])
    else:
        if not kw["dataset"]:
            raise UsageError("train needs --dataset NAME (ganagerie list datasets)")
        ds_opts = {}
        if kw["data_root"]:
            ds_opts["root"] = kw["data_root"]
        if kw["download"]:
            ds_opts["download"] = True
        cfg = resolve_config(
            registry,
            dataset=kw["dataset"],
            variant=kw["variant"] or "vanilla",
            loss=kw["loss"],
            arch=kw["arch"],
            regularizers=kw["regs"],
            overrides={"steps": kw["steps"], "batch_size": kw["batch_size"], "seed": kw["seed"],
                       "device": kw["device"]},
            sets=kw["sets"],
            dataset_options=ds_opts,
        )
    out = kw["out"] or Path("runs") / f"{cfg.dataset.name}-{cfg.variant or cfg.loss.name}-s{cfg.seed}"
    result = train(cfg, registry, out, resume=kw["resume"], progress=False if kw["quiet"] else None)
    losses = ", ".join(f"{k}={v:.4g}" for k, v in result.last.items())
    click.echo(f"{result.status} at step {result.step}: {result.run_dir} ({losses})")
    if result.status == "diverged":
        sys.exit(1)


@cli.command("sample")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-n", "n", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="PNG file to write.")
@click.option("--seed", type=int, default=0, show_default=True)
def sample_cmd(run_dir: Path, n: int, output: Path, seed: int) -> None:
    """Draw samples from a trained run into a PNG (image grid or scatter plot)."""
    from .rundir import sample_run

    sample_run(run_dir, _registry(), n, output, seed)
    click.echo(f"wrote {n} samples to {output}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage errors are one line on stderr and exit code 2."""
    try:
        rv = cli.main(args=argv, prog_name="ganagerie", standalone_mode=False)
    except click.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "ganagerie"
        click.echo(f"error: {exc.format_message()} ({cmd} --help)", err=True)
        return 2
    except UsageError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return 130
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
