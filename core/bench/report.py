"""The benchmark report: results.json, report.md and a self-contained report.html.

Both documents are rendered from one list of blocks (headings, paragraphs, tables,
figures, code), so that they always say the same thing. The HTML embeds its figures
as base64 PNGs; the Markdown links the same PNGs under ``OUT/plots/``.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..files import refuse_links, write_json, write_with
from ..registry import Registry
from . import plots
from .layout import PLAN_FILE, run_dir
from .lock import bench_lock
from .references import CEILING
from .results import assemble, collect, eval_rows, load_results, loss_rows, records_seed_groups
from .search_results import CURVE_METHOD
from .search_space import range_from_json, trial_of
from .stats import ALPHA

# -- the document model ------------------------------------------------------------------


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Picture:
    alt: str
    png: bytes
    path: str  # relative to the report, where the Markdown finds it


@dataclass
class Code:
    text: str
    lang: str = ""


@dataclass
class Details:
    summary: str
    blocks: list[Any] = field(default_factory=list)


# -- building it ---------------------------------------------------------------------------


def write_report(out: str | Path, registry: Registry | None = None) -> dict[str, Any]:
    """Collect the results of ``out`` and write results.json, report.md and report.html,
    holding the benchmark's lock (re-entrant: ``bench run`` reports under its own), so that a
    report never reads a live benchmark's half-done runs or replaces its newer results."""
    out = Path(out)
    with bench_lock(out):
        return _write_report(out, registry)


def _write_report(out: Path, registry: Registry | None) -> dict[str, Any]:
    if (out / PLAN_FILE).exists():
        results = collect(out, registry)
    else:  # a committed report: its text restated from its results.json, its figures kept
        recorded = load_results(out)
        results = assemble(recorded, recorded["runs"], recorded.get("references") or {}, registry)
    blocks = build(results, out)
    refuse_links(out, "results.json", "report.md", "report.html",
                 *(b.path for b in _walk(blocks) if isinstance(b, Picture)))
    for block in _walk(blocks):
        if isinstance(block, Picture):
            write_with(out / block.path, lambda fh, b=block: fh.write(b.png))
    write_json(out / "results.json", results)
    title = f"ganagerie benchmark: {results['suite']['name']}"
    write_with(out / "report.md", lambda fh: fh.write(to_markdown(blocks).encode()))
    write_with(out / "report.html", lambda fh: fh.write(to_html(blocks, title).encode()))
    return results


def build(results: dict[str, Any], out: Path | None) -> list[Any]:
    """The report as blocks: summary, one section per dataset, protocol, environment, runs.

    Figures are drawn from the run directories under ``out``; with ``out=None`` the report
    has its text only (what ``bench verify`` regenerates from results.json).
    """
    suite = results["suite"]
    runs = results["runs"]
    counts = {s: sum(r["status"] == s for r in runs) for s in dict.fromkeys(r["status"] for r in runs)}
    blocks: list[Any] = [
        Heading(1, f"Benchmark report: {suite['name']}"),
        Para(f"Suite `{suite['origin']}`: {len(runs)} runs "
             f"({', '.join(f'{n} {s}' for s, n in counts.items())}). "
             f"Content hash of the results: `{results['content_hash']}`."),
        Para(f"Each cell is the mean over seeds ± the half-width of its "
             f"{results['statistics']['interval']}; only the final evaluation of each run counts "
             f"(no best-of-run numbers). Diverged and failed runs are excluded from the means and "
             f"counted in their columns; so are runs not finished yet (a suite still under way or "
             f"stopped: rerun it to finish them). Ranking: {results['statistics']['test']}; a "
             f"variant's rank is 1 + the number of variants significantly better than it, so "
             f"variants that cannot be told apart share a rank."),
    ]
    if results.get("seeds_added"):
        steps = ", then ".join(f"{x['from']} to {x['to']}" for x in results["seeds_added"])
        blocks.append(Para(
            f"**Seeds were added after a look at the results** ({steps} seeds per cell). A "
            f"study extended because its first results did not decide is more likely to decide "
            f"by chance than its p-values say (optional stopping): take its decisions as "
            f"exploratory, or confirm them on seeds planned before looking."))
    # a report of a suite still under way (or stopped) counts its runs not yet done apart
    partial = any(info["unfinished"] + info["missing"] for ds in results["datasets"].values()
                  for info in ds["variants"].values())
    if results.get("search"):
        blocks += search_section(results, out)
    for label, ds in results["datasets"].items():
        # a search's trials are summarized in its section; these are the re-runs
        shown = [r for r in runs if r["dataset"] == label and trial_of(r["variant"]) is None]
        blocks += dataset_section(label, ds, shown, out, partial)
    if results.get("across_datasets"):
        blocks += across_section(results["across_datasets"])
    blocks += protocol_section(results)
    blocks += environment_section(results["environment"], results["threads"])
    blocks += runs_section(runs)
    return blocks


def dataset_section(label: str, ds: dict[str, Any], runs: list[dict[str, Any]],
                    out: Path | None, partial: bool = False) -> list:
    arrows = {True: " ↑", False: " ↓", None: ""}
    ranking = ds["ranking"]
    pending = {v: info["unfinished"] + info["missing"] for v, info in ds["variants"].items()}
    header = ["variant", *(["rank"] if ranking else []),
              *(m + arrows[ds["directions"].get(m)] for m in ds["metrics"]),
              "seeds", "diverged", "failed", *(["unfinished"] if partial else []), "not trained"]
    order = list(ds["variants"])
    if ranking:
        mean = {v: ds["variants"][v]["metrics"][ranking["metric"]]["mean"] for v in order}
        sign = -1 if ranking["higher_is_better"] else 1
        order.sort(key=lambda v: (ranking["ranks"].get(v, math.inf),
                                  sign * mean[v] if mean[v] is not None else math.inf))
    rows = []
    marked = False
    for v in order:
        info = ds["variants"][v]
        failed = info["failed"]
        cells = []
        for m in ds["metrics"]:
            cell = info["metrics"][m]
            low = any(not t["beats"] for t in cell.get("floors", []))
            marked |= low
            cells.append(fmt_ci(cell) + (" ‡" if low else ""))
        rows.append([v, *([str(ranking["ranks"].get(v, "–"))] if ranking else []), *cells,
                     str(info["runs"]), f"{info['diverged']}/{info['runs']}",
                     f"{failed}/{info['runs']}", *([f"{pending[v]}/{info['runs']}"] if partial else []),
                     f"{info.get('not trained', 0)}/{info['runs']}"])
    for name, cells in ds.get("references", {}).items():
        kind = "ceiling" if name == CEILING else "floor"
        n = max((c["n"] for c in cells.values()), default=0)
        row = [f"*{name}* ({kind})", *([""] if ranking else []), *(fmt_ci(cells[m]) for m in ds["metrics"]),
               str(n)]
        rows.append(row + [""] * (len(header) - len(row)))
    for row in ds.get("context", []):  # published figures: a value, no interval, no test
        cells = [fmt(row["values"][m]) if m in row["values"] else "" for m in ds["metrics"]]
        line = [f"*{row['label']}* (published)", *([""] if ranking else []), *cells]
        rows.append(line + [""] * (len(header) - len(line)))
    blocks: list[Any] = [Heading(2, f"Dataset {label}"), Table(header, rows)]
    if ds.get("context"):
        blocks.append(Para(
            "Published figures, for context only (measured elsewhere, with other code, machines "
            "and seeds; never tested against the rows above): "
            + "; ".join(f"*{row['label']}*: {row['source']}" for row in ds["context"]) + "."))
    if ds.get("references"):
        blocks.append(Para(
            "Reference rows, scored with the same metrics, sample counts and seeds: *real data* "
            "is the test split scored as if generated (the ceiling; where conditional metrics are "
            "asked for, the train split drawn class by class with its labels, so that CAS trains "
            "on real train data and tests on the test split); *uniform noise* (uniform over "
            "the training data's bounding box) and *one mode* (samples of one mode only) are floors. "
            "A run is *not trained* (and left out of the means) when, in every log window, its "
            "discriminator told real from generated no better than 60% at the midpoint of its two "
            "mean logits (not judged where a technique transforms what D sees, as augmentations "
            "do: D's accuracy is then logged on the transformed samples), or its generator got "
            "no gradient; the diag/ curves show why."
            + (" ‡: not significantly better than every floor of that metric (a floor is a "
               "reference short of the ceiling's interval; paired t-test over seeds, Holm-corrected over "
               "the floors, "
               "α = 0.05): the cell does not show that the variant learned anything." if marked else "")
            + (" n/a: a conditional metric (it scores samples by the class G was asked for), not "
               "scored for an unconditional generator; that variant is left out of its comparisons."
               if any(c.get("not_scored") for info in ds["variants"].values()
                      for c in info["metrics"].values()) else "")))
    if ds.get("baseline"):
        blocks += baseline_blocks(ds["baseline"], ds["metrics"])
    if ranking:
        blocks.append(Para(ranking_text(ranking, order)))
        blocks.append(Details("Pairwise tests", [Table(
            ["a", "b", "common seeds", "mean a − b", "p", "p (Holm)", "significantly better"],
            [[p["a"], p["b"], str(p["n"]), fmt(p["mean_diff"]), fmt(p["p"]), fmt(p["p_holm"]),
              p["better"] or "neither"] for p in ranking["pairs"]])]))
    elif ds["metrics"]:
        blocks.append(Para("No ranking: no metric of this dataset states whether higher is better."))
    else:
        blocks.append(Para("No metric values: the runs were not evaluated."))
    if out is not None:
        blocks += dataset_figures(label, runs, out, ds.get("references"))
    return blocks


_SAMPLERS = {
    "random": "random sampler (Optuna's RandomSampler: what the paper's budget curves assume)",
    "tpe": "TPE sampler (Optuna's TPESampler: its first 10 settings at random, then drawn from "
           "the scores so far)",
    "qmc": "quasi-random sampler (point n of a scrambled Sobol sequence for trial n)",
}


def search_section(results: dict[str, Any], out: Path | None) -> list[Any]:
    """The equal-budget search (Lucic et al. 2018): per dataset the best setting of each variant
    with its re-run, the settings without a score, the budget curves and the scores of all
    settings; then the search's protocol."""
    search = results["search"]
    column, budget, seeds = search["metric"], search["budget"], search["rerun_seeds"]
    sampler = _SAMPLERS.get(search["sampler"], search["sampler"])
    if search["sampler"] == "tpe":
        sampler += f", {search['wave']} setting(s) asked at a time per variant"
    blocks: list[Any] = [Heading(2, "Search: every variant on the same budget"), Para(
        f"As in Lucic et al. (2018), every variant was given the same budget of {budget} settings "
        f"per dataset, drawn by the {sampler} from its own space (protocol below). Each setting "
        f"trained once, trial n with seed n, and was scored by the final evaluation of {column} "
        f"(no best-of-run). The best setting of each variant, chosen on those scores, was re-run "
        f"with {len(seeds)} new seeds ({_span(seeds)}; no trial used them): the tables under "
        f"*Dataset* below, their rankings and the comparisons with the baseline are those "
        f"re-runs. **The re-run numbers are not the ones the selection saw**: the best of "
        f"{budget} noisy search scores overstates its setting (selection bias), a re-run on new "
        f"seeds does not. Budget curves: {CURVE_METHOD}.")]
    for label, ds in search["datasets"].items():
        blocks += _search_dataset(label, ds, search, results["datasets"].get(label) or {}, out)
    rows = []
    for variant, space in search["spaces"].items():
        for name, recorded in space.items():
            try:
                r = range_from_json(recorded)
                rows.append([variant, name, r.describe(), r.source])
            except UsageError:
                rows.append([variant, name, str(recorded), "its component"])
    blocks += [Heading(3, "Search protocol"), Para(
        f"Sampler: {sampler}, seed {search['seed']} (each value drawn from the seed, the study "
        f"DATASET/VARIANT, the trial number and the field: the same suite gives the same settings). "
        f"Budget: {budget} settings per variant and dataset; trial n trains with seed n "
        f"({_span(search['trial_seeds'])}); the best setting re-runs with seeds {_span(seeds)}. "
        f"Score: {column}, the final evaluation. `lr` and `beta1` set both networks' learning "
        f"rate and Adam beta1 to one value (beta2 kept). Float ranges are half-open."),
        Table(["variant", "field", "range", "from"], rows)]
    return blocks


def _span(seeds: list[int]) -> str:
    return "none" if not seeds else str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"


def _search_dataset(label: str, ds: dict[str, Any], search: dict[str, Any],
                    summary: dict[str, Any], out: Path | None) -> list[Any]:
    column = search["metric"]
    arrow = {True: " ↑", False: " ↓"}.get(ds["higher_is_better"], "")
    baseline = summary.get("baseline") or {}
    against = {c["variant"]: c for c in (baseline.get("comparisons") or {}).get(column, [])}
    rows = []
    for variant, info in ds["variants"].items():
        best = info["best"]
        cell = ((summary.get("variants") or {}).get(variant) or {}).get("metrics", {}).get(column)
        if variant == baseline.get("variant"):
            versus = "baseline"
        elif variant in against:
            c = against[variant]
            effect = {"n": c["n"], "mean": c["effect"], "ci_low": c["effect_low"],
                      "ci_high": c["effect_high"]}
            versus = f"{c['verdict']} ({fmt_ci(effect)})"
        else:
            versus = "–"
        fraction = info["no_score_fraction"]
        rows.append([
            variant, f"{info['finished']}/{search['budget']}",
            "–" if best is None else str(best["trial"]), "–" if best is None else fmt(best["score"]),
            fmt_ci(cell) if cell else "–", versus,
            f"{info['diverged']} / {info['failed']} / {info['not trained']}"
            + ("" if fraction is None else f" ({fraction:.0%})"),
            "–" if best is None else ", ".join(f"{k}={_value(v)}" for k, v in best["params"].items())])
    header = ["variant", "settings", "best trial", f"its search {column}{arrow}",
              f"re-run {column}{arrow} ({len(search['rerun_seeds'])} new seeds)",
              f"vs {baseline.get('variant', 'baseline')} (re-runs)",
              "no score: diverged / failed / not trained", "best setting"]
    blocks: list[Any] = [Heading(3, f"Search on {label}"), Table(header, rows)]
    pending = sum(info["unfinished"] + info["missing"] for info in ds["variants"].values())
    if pending:
        blocks.append(Para(f"{pending} setting(s) not finished yet: rerun the same command to finish "
                           "the search; the curves are of the finished settings."))
    if out is not None:
        curves = {v: info["curve"] for v, info in ds["variants"].items() if info["curve"]}
        if curves:
            blocks.append(Picture(f"{label}: best {column} against budget", plots.budget_figure(
                curves, f"{label}: best {column} among the first b settings "
                f"(median, {search['curve']['quantiles'][0]:.1%}-{search['curve']['quantiles'][-1]:.1%} "
                f"over {search['curve']['orderings']} orderings)", column),
                f"plots/search-{label}-budget.png"))
        scores = {v: [t["score"] for t in info["trials"] if t["score"] is not None]
                  for v, info in ds["variants"].items()}
        if any(scores.values()):
            blocks.append(Picture(f"{label}: {column} of every setting", plots.box_figure(
                scores, f"{label}: {column} of every setting tried (settings without a score left out)",
                column), f"plots/search-{label}-scores.png"))
    return blocks


def _value(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def dataset_figures(label: str, runs: list[dict[str, Any]], out: Path,
                    references: dict[str, Any] | None = None) -> list[Picture]:
    # the reference rows' means, drawn across the learning curves
    levels: dict[str, dict[str, float]] = {}
    for name, cells in (references or {}).items():
        for metric, cell in cells.items():
            if cell["mean"] is not None:
                levels.setdefault(metric, {})[name] = cell["mean"]
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by_variant.setdefault(r["variant"], []).append(r)
    figures = []
    for what, slug, read in (("metrics during training", "metrics", eval_rows),
                             ("losses, penalties and diagnostics", "losses", loss_rows)):
        rows = {v: [read(run_dir(out, r["key"])) for r in rs] for v, rs in by_variant.items()}
        picture = _curves_picture(label, what, slug, rows, levels if slug == "metrics" else None)
        if picture is None:
            picture = _kept(out, f"{label}: {what}", f"plots/{label}-{slug}.png")
        if picture is not None:
            figures.append(picture)
    pictures = {}
    for v, rs in by_variant.items():
        for r in sorted(rs, key=lambda r: r["seed"]):
            png = run_dir(out, r["key"]).samples / f"step_{r['step']:07d}.png"
            if r["status"] == "completed" and png.exists():
                pictures[f"{v} (seed {r['seed']})"] = png
                break
    if pictures:
        figures.append(Picture(f"{label}: final samples", plots.samples_figure(
            pictures, f"{label}: final samples, first completed seed of each variant"),
            f"plots/{label}-samples.png"))
    elif kept := _kept(out, f"{label}: final samples", f"plots/{label}-samples.png"):
        figures.append(kept)
    return figures


def _kept(out: Path, alt: str, path: str) -> Picture | None:
    """A figure already in the report directory, where the runs it was drawn from are gone
    (a committed report whose text is rewritten)."""
    if (out / "runs").is_dir() or not (out / path).is_file():
        return None
    return Picture(alt, (out / path).read_bytes(), path)


def _curves_picture(label: str, what: str, slug: str,
                    rows_by_variant: dict[str, list[list[tuple[int, dict[str, float]]]]],
                    levels: dict[str, dict[str, float]] | None = None) -> Picture | None:
    """One panel per logged quantity from ``{variant: [rows of each seed]}``; None if none."""
    names = list(dict.fromkeys(n for seeds in rows_by_variant.values() for rows in seeds
                               for _, values in rows for n in values))
    if not names:
        return None
    panels = {n: {v: [[(s, vals[n]) for s, vals in rows if vals.get(n) is not None] for rows in seeds]
                  for v, seeds in rows_by_variant.items()} for n in names}
    return Picture(f"{label}: {what}",
                   plots.curves_figure(panels, f"{label}: {what} (mean over seeds, 95% band)",
                                       levels=levels),
                   f"plots/{label}-{slug}.png")


def across_section(over: dict[str, Any]) -> list[Any]:
    """Variants ranked over the datasets: average ranks, Friedman's test, the critical
    difference and its diagram."""
    metric, n = over["metric"], len(over["datasets"])
    ranks = over["average_ranks"]
    blocks: list[Any] = [Heading(2, "Across datasets")]
    if not ranks:
        return blocks + [Para(f"No ranking over datasets: no variant has a mean {metric} on "
                              f"every dataset.")]
    order = sorted(ranks, key=ranks.get)
    text = (f"Average rank by {metric} over {n} datasets ({', '.join(over['datasets'])}); "
            f"{over['method']}. ")
    if over["p"] is None:
        text += "Too few variants for Friedman's test."
    elif over["p"] < ALPHA:
        text += (f"Friedman: F = {fmt(over['friedman_f'])}, p = {fmt(over['p'])}: the variants "
                 f"differ. CD = {fmt(over['cd'])}.")
    else:
        text += (f"Friedman: F = {fmt(over['friedman_f'])}, p = {fmt(over['p'])}: no difference "
                 f"between the variants is shown over these {n} datasets (CD = {fmt(over['cd'])}).")
    apart = [f"{a} ranks above {b}" for i, a in enumerate(order) for b in order[i + 1:]
             if ranks[b] - ranks[a] >= over["cd"]]
    if apart and over["p"] is not None and over["p"] < ALPHA:
        text += " Told apart by the Nemenyi test: " + "; ".join(apart) + "."
    if over["left_out"]:
        text += f" Left out (no mean on some dataset): {', '.join(over['left_out'])}."
    blocks += [Para(text), Table(["variant", "average rank"], [[v, f"{ranks[v]:.2f}"] for v in order]),
               Picture("critical-difference diagram", plots.critical_difference_figure(
                   ranks, over["cd"], over["groups"],
                   f"average rank by {metric} over {n} datasets (1 = best)"),
                   "plots/critical-difference.png")]
    return blocks


def baseline_blocks(baseline: dict[str, Any], metrics: list[str]) -> list[Any]:
    """The comparisons with the baseline: the decided ones in a sentence each, then all of them
    in a table with their effects, p-values and verdicts."""
    name = baseline["variant"]
    rows, decided, undecided, plans = [], [], 0, []
    for m in metrics:
        for c in baseline["comparisons"].get(m, []):
            effect = {"n": c["n"], "mean": c["effect"], "ci_low": c["effect_low"],
                      "ci_high": c["effect_high"]}
            power = (f"decides d_z ≥ {fmt(c['detectable_d_z'])}" if c.get("detectable_d_z") else
                     f"{c['seeds_needed']} seeds" if c.get("seeds_needed") else "–")
            rows.append([c["variant"], m, str(c["n"]), fmt_ci(effect), fmt(c["d_z"]), fmt(c["p"]),
                         fmt(c["p_holm"]), c["verdict"], power])
            if c["verdict"] == "not decided":
                undecided += 1
                if c.get("seeds_needed"):
                    plans.append(f"{c['variant']} on {m} {c['seeds_needed']}")
            else:
                decided.append(f"{c['variant']} is {c['verdict']} than {name} on {m} "
                               f"(by {fmt_ci(effect)}, p (Holm) = {fmt(c['p_holm'])})")
    text = (f"Against the baseline {name}: " + "; ".join(decided) + "." if decided else
            f"Against the baseline {name}: no comparison is decided.")
    if decided and undecided:
        text += (" The other comparison is not decided." if undecided == 1 else
                 f" The other {undecided} comparisons are not decided.")
    if plans:
        text += (" Seeds that would decide a difference of the observed size with 80% power: "
                 + ", ".join(plans) + ".")
    return [Para(text), Details(f"Every variant against {name}", [
        Para(f"Test: {baseline['test']}. Power: {baseline.get('power', '–')}."),
        Table(["variant", "metric", "common seeds", f"effect (variant − {name})", "d_z", "p",
               "p (Holm)", "verdict", "80% power"], rows)])]


def ranking_text(ranking: dict[str, Any], order: list[str]) -> str:
    """The all-pairs ranking as its decided pairs only (the table has every rank, the
    pairwise tests every pair)."""
    direction = "higher" if ranking["higher_is_better"] else "lower"
    decided = [p for p in ranking["pairs"] if p["better"]]
    head = f"Ranking by {ranking['metric']} ({direction} is better), all pairs: "
    if decided:
        shown = [f"{p['better']} above {p['b'] if p['better'] == p['a'] else p['a']} "
                 f"(p (Holm) = {fmt(p['p_holm'])})" for p in decided]
        rest = len(ranking["pairs"]) - len(decided)
        text = (head + "; ".join(shown)
                + f". The other {rest} of {len(ranking['pairs'])} pairs are not decided.")
    else:
        text = head + f"none of the {len(ranking['pairs'])} pairs is decided; every variant ranks first."
    if ranking["unranked"]:
        text += f" Not ranked, no completed run: {', '.join(ranking['unranked'])}."
    low = ranking.get("not_above_floor") or []
    if low:
        text += (f" Not significantly better than the floors on {ranking['metric']}, so their "
                 f"rank compares nothing learned: {', '.join(low)}.")
    return text


def protocol_section(results: dict[str, Any]) -> list[Any]:
    blocks: list[Any] = [Heading(2, "Protocol")]
    protocols = {}
    for r in results["runs"]:
        if r["protocol"] and r["dataset"] not in protocols:
            protocols[r["dataset"]] = r["protocol"]
    for label, protocol in protocols.items():
        blocks += [Para(f"Metric protocol on {label} (from eval.json):"),
                   Code(json.dumps(protocol, indent=2), "json")]
    options = results["options"]
    blocks.append(Para(
        f"Command-line options: seeds {options['seeds'] or 'as in the suite'}, steps "
        f"{options['steps'] or 'as in the suite'}, overrides {options['sets'] or 'none'}; "
        f"{results['threads']} torch CPU thread(s) per run; {_batching(options, results['runs'])}."))
    blocks += [Para(f"Suite file `{results['suite']['origin']}`:"),
               Code(results["suite"]["source"], "toml")]
    return blocks


def _batching(options: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    mode = options.get("batch_seeds", "off")
    if mode == "off":
        return "each run trained alone"
    said = (f"--batch-seeds {mode}: the seeds of a cell trained together where every component "
            "and the rule of the day allowed it, equal to training alone up to the order of "
            "floating-point sums")
    if not records_seed_groups(runs):
        return (f"{said}; which seeds trained together was not recorded (a report from before "
                "`trained_with`): `bench verify` re-trains each cell's seeds together where today's "
                "rule batches them, and with `--batch-seeds off` one by one")
    together = sum(1 for r in runs if r["trained_with"])
    return f"{said}; {together} of {len(runs)} runs trained with other seeds (`trained_with`)"


def environment_section(env: dict[str, Any], threads: int) -> list[Any]:
    git = env.get("git")
    rows = [["ganagerie", env["ganagerie"]], ["python", env["python"]], ["torch", env["torch"]],
            ["platform", env["platform"]], ["cpu", env["cpu"]],
            ["gpus", ", ".join(env["gpus"]) or "none"], ["cuda", str(env["cuda"])],
            ["git commit", (git["commit"] + (" (uncommitted changes)" if git["dirty"] else ""))
             if git else "not a git checkout"]]
    plugins = [[p["name"], str(p["distribution"]), str(p["version"]),
                "; ".join(f"{k}: {', '.join(v)}" for k, v in p["provides"].items())]
               for p in env["plugins"]]
    return [Heading(2, "Environment"), Table(["what", "value"], rows),
            Table(["plugin", "distribution", "version", "provides"], plugins)]


def runs_section(runs: list[dict[str, Any]]) -> list[Any]:
    names = list(dict.fromkeys(m for r in runs for m in r["metrics"]))
    rows = [[r["key"], r["status"], f"{r['step']}/{r['steps']}",
             *(fmt(r["metrics"][m]) if m in r["metrics"] else "" for m in names),
             r["error"] or (r.get("health") or {}).get("not_trained") or ""] for r in runs]
    configs = {r["key"]: r["config"] for r in runs}
    return [Heading(2, "Runs"), Table(["run", "status", "step", *names, "error"], rows),
            Details("Every resolved run config", [Code(json.dumps(configs, indent=1), "json")])]


def fmt(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.4g}"


def fmt_ci(cell: dict[str, Any]) -> str:
    """``mean ± half-width``, or ``mean [low, high]`` where the metric's range cut the interval,
    rounded to the precision the interval supports: the half-width to one significant digit
    (two when that digit is 1), the mean and bounds to the same decimal place (``330 ± 100``,
    ``0.029 ± 0.005``, ``3 [0, 8]``); ``mean (n=1)`` for one seed; ``–`` for none."""
    if cell.get("not_scored"):
        return "n/a"
    if cell["n"] == 0:
        return "–"
    mean, low, high = cell["mean"], cell.get("ci_low"), cell.get("ci_high")
    if cell["n"] == 1 or low is None or high is None:
        return f"{fmt(mean)} (n=1)" if cell["n"] == 1 else fmt(mean)
    half = (high - low) / 2
    if not half > 1e-12 * max(1.0, abs(mean)):  # equal values, up to floating-point sums
        return f"{fmt(mean)} ± 0"
    place = _decimal_place(half)
    if abs((mean - low) - (high - mean)) > 1e-9 * max(1.0, abs(mean)):  # cut to the range
        return f"{_rounded(mean, place)} [{_rounded(low, place)}, {_rounded(high, place)}]"
    return f"{_rounded(mean, place)} ± {_rounded(half, place)}"


def _decimal_place(half: float) -> int:
    """The decimal place to round to: the half-width's first significant digit, or its second
    when the first is 1 (0.0054 -> 3, 104 -> -1, 4 -> 0)."""
    exponent = math.floor(math.log10(half))
    leading = int(half / 10 ** exponent + 1e-9)
    return -exponent + (1 if leading == 1 else 0)


def _rounded(x: float, place: int) -> str:
    if not -6 <= place <= 8:  # beyond what fixed notation reads well
        return f"{x:.3g}"
    value = round(x, place)
    return f"{value:.{max(place, 0)}f}" if value != 0 else "0"


# -- rendering -------------------------------------------------------------------------------


def text_of_markdown(text: str) -> list[str]:
    """The report's markdown without its figures, paragraph by paragraph."""
    return [p for p in text.split("\n\n") if not p.startswith("![")]


def text_of_html(text: str) -> list[str]:
    """The report's HTML without its figures, line by line."""
    return [line for line in text.split("\n") if not line.startswith("<figure>")]


def _walk(blocks: list[Any]):
    for b in blocks:
        yield b
        if isinstance(b, Details):
            yield from _walk(b.blocks)


def to_markdown(blocks: list[Any]) -> str:
    parts = []
    for b in blocks:
        if isinstance(b, Heading):
            parts.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            parts.append(b.text)
        elif isinstance(b, Table):
            def row(cells):
                return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
            parts.append("\n".join([row(b.header), row(["---"] * len(b.header)),
                                    *(row(r) for r in b.rows)]))
        elif isinstance(b, Picture):
            parts.append(f"![{b.alt}]({b.path})")
        elif isinstance(b, Code):
            fence = "~~~~" if "```" in b.text else "```"
            parts.append(f"{fence}{b.lang}\n{b.text.rstrip()}\n{fence}")
        elif isinstance(b, Details):
            parts.append(f"<details><summary>{html.escape(b.summary)}</summary>\n\n"
                         f"{to_markdown(b.blocks)}\n</details>")
    return "\n\n".join(parts) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1340px; margin: 2em auto; padding: 0 1em;
       color: #222; }
p, ul, ol, pre, h1, h2, h3 { max-width: 1100px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }
th { overflow-wrap: anywhere; }
th { background: #f2f2f2; }
img { max-width: 100%; display: block; margin: 1em 0; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
code { font-size: 0.95em; }
th.sortable { cursor: pointer; }
"""

#: click a column's header to sort the table by it (numbers by value, the rest as text)
_SORT_JS = """
document.querySelectorAll("table").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.classList.add("sortable");
    th.title = "sort by this column";
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var up = th.dataset.order !== "up";
      th.dataset.order = up ? "up" : "down";
      var key = function (row) {
        var text = row.cells[col] ? row.cells[col].textContent.trim() : "";
        var x = parseFloat(text.replace("\u2212", "-"));
        return isNaN(x) ? text : x;
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var c = (typeof x === typeof y) ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
        return up ? c : -c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def to_html(blocks: list[Any], title: str) -> str:
    body = _html_blocks(blocks)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f"<body>\n{body}\n<script>{_SORT_JS}</script>\n</body>\n</html>\n")


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code> (the only inline markup the report uses)."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def _html_blocks(blocks: list[Any]) -> str:
    parts = []
    for b in blocks:
        if isinstance(b, Heading):
            parts.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            parts.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(c)}</th>" for c in b.header)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                           for r in b.rows)
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Picture):
            data = base64.b64encode(b.png).decode()
            parts.append(f"<figure><img alt=\"{html.escape(b.alt)}\" "
                         f"src=\"data:image/png;base64,{data}\"></figure>")
        elif isinstance(b, Code):
            parts.append(f"<pre><code>{html.escape(b.text)}</code></pre>")
        elif isinstance(b, Details):
            parts.append(f"<details><summary>{html.escape(b.summary)}</summary>"
                         f"{_html_blocks(b.blocks)}</details>")
    return "\n".join(parts)
