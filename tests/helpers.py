"""What many test modules share: tiny networks and tiny suites on ring8 (import ``helpers``)."""

from __future__ import annotations

from collections.abc import Sequence


def tiny(width: int = 32, n: int = 2000, log_every: int = 10,
         checkpoint_every: int | None = None) -> list[str]:
    """``--set`` overrides for a 2-layer MLP GAN on ``n`` ring8 points, batch 32."""
    sets = [f"arch.g_width={width}", f"arch.d_width={width}", "arch.g_depth=2", "arch.d_depth=2",
            f"log_every={log_every}", "batch_size=32", f"dataset.n={n}"]
    return sets if checkpoint_every is None else [*sets, f"checkpoint_every={checkpoint_every}"]


def tiny_suite(variants: Sequence[str], *, seeds: int, steps: int, eval_every: int,
               checkpoint_every: int, eval_samples: int = 200, extra: str = "") -> str:
    """A suite's TOML: ``variants`` (names, or TOML strings and inline tables) on 2,000 ring8 points with
    1-layer 16-wide networks, ranked by modes. ``extra``: more top-level keys."""
    listed = ", ".join(v if v[:1] in ('"', "{") else f'"{v}"' for v in variants)
    return f"""variants = [{listed}]
{extra}
seeds = {seeds}
steps = {steps}
eval_every = {eval_every}
eval_samples = {eval_samples}
rank_by = "modes"
higher_is_better = {{ modes = true, high_quality_pct = true, reverse_kl = false }}
datasets = [{{ name = "ring8", options = {{ n = 2000 }} }}]
[set]
arch.g_width = 16
arch.d_width = 16
arch.g_depth = 1
arch.d_depth = 1
batch_size = 32
log_every = 10
checkpoint_every = {checkpoint_every}
"""
