"""The report: results.json statistics, report.md, a self-contained report.html that renders
in a real headless browser."""

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganagerie import __version__
from ganagerie.bench.harness import run_suite
from ganagerie.bench.report import fmt_ci
from ganagerie.bench.results import content_hash
from ganagerie.bench.stats import mean_ci
from ganagerie.bench.suite import parse_suite
from ganagerie.plugin_loader import get_plugins

SUITE = """
name = "report-test"
seeds = 3
steps = 40
eval_every = 20
eval_samples = 200
higher_is_better = { modes = true, high_quality_pct = true, reverse_kl = false }
datasets = [{ name = "ring8", options = { n = 2000 } }]
variants = ["vanilla", { label = "unstable", variant = "vanilla", set = { lr_d = 1e30, lr_g = 1e30 } }]
[set]
arch.g_width = 16
arch.d_width = 16
arch.g_depth = 1
arch.d_depth = 1
batch_size = 32
log_every = 10
[[context]]
label = "PacGAN's GAN"
dataset = "ring8"
source = "Lin et al. 2018, Table 1: 400k steps, ± standard error over 10 trials"
values = { modes = 6.3, high_quality_pct = 98.2 }
"""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tmp_path_factory, registry):
    out = tmp_path_factory.mktemp("report") / "out"
    run_suite(parse_suite(SUITE, "report-test.toml"), out, registry, jobs=1, threads=1,
              progress=False)
    return out, json.loads((out / "results.json").read_text())


def test_table_cells_are_mean_and_t_interval_over_completed_seeds(report):
    _, results = report
    ring8 = results["datasets"]["ring8"]
    assert ring8["metrics"] == ["modes", "high_quality_pct", "reverse_kl"]
    assert ring8["directions"] == {"modes": True, "high_quality_pct": True, "reverse_kl": False}
    # runs whose D never separated real from generated are "not trained" and left out
    runs = [r for r in results["runs"] if r["variant"] == "vanilla" and r["status"] == "completed"]
    assert runs
    for metric in ring8["metrics"]:
        values = [r["metrics"][metric] for r in runs]
        cell = ring8["variants"]["vanilla"]["metrics"][metric]
        expected = mean_ci(values)
        assert cell["n"] == len(runs) and cell["mean"] == pytest.approx(expected.mean)
        assert cell["values"] == {str(r["seed"]): r["metrics"][metric] for r in runs}
        if expected.half_width > 0:
            assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((expected.low, expected.high))
    assert ring8["variants"]["vanilla"]["failure_rate"] == 0.0
    assert ring8["variants"]["unstable"]["failure_rate"] == 1.0
    # the first metric with a known direction ranks, since the suite names none
    assert ring8["ranking"]["metric"] == "modes"


def test_results_record_protocol_configs_environment_and_a_content_hash(report):
    out, results = report
    json.loads((out / "results.json").read_text(), parse_constant=pytest.fail)  # strict JSON
    assert results["suite"]["source"] == SUITE
    assert results["statistics"]["test"].startswith("two-sided paired t-test")
    env = results["environment"]
    assert env["ganagerie"] == __version__ and env["torch"] and env["cpu"]
    assert env["plugins"] == get_plugins().describe()
    run = results["runs"][0]
    assert run["config"]["arch"]["options"]["g_width"] == 16
    assert run["protocol"]["n_generated"] == 200
    assert run["protocol"]["metrics"]["mixture-modes"]["n_modes"] == 8
    assert results["content_hash"] == content_hash(results)
    unstable = next(r for r in results["runs"] if r["variant"] == "unstable")
    assert unstable["status"] == "diverged" and None in unstable["final_losses"].values()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", results["content_hash"])


def test_bench_report_rewrites_the_same_results(report, cli):
    out, results = report
    code, stdout, _ = cli("bench", "report", out)
    assert code == 0 and results["content_hash"] in stdout
    assert json.loads((out / "results.json").read_text()) == results


def test_markdown_report(report):
    out, results = report
    md = (out / "report.md").read_text()
    header = "| variant | rank | modes ↑ | high_quality_pct ↑ | reverse_kl ↓ | seeds | diverged | failed |"
    assert header in md
    assert re.search(r"\| unstable \| – \| – \| – \| – \| 3 \| 3/3 \| 0/3 \|", md)
    assert "paired t-test" in md and "Holm" in md and results["content_hash"] in md
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (out / link).stat().st_size > 1000, link
    assert len(re.findall(r"!\[", md)) == 3  # metrics over steps, losses, samples
    assert SUITE.strip().splitlines()[-1] in md  # the suite file, verbatim
    assert md.count('"g_width": 16') == 6  # every resolved run config


def test_a_partial_report_counts_runs_not_finished_apart_from_failures(report, tmp_path, cli):
    """A suite still under way: missing and killed runs are 'unfinished', not 'failed'."""
    out = tmp_path / "partial"
    shutil.copytree(report[0], out)
    shutil.rmtree(out / "runs" / "ring8" / "vanilla" / "seed-2")  # never started
    status = out / "runs" / "ring8" / "vanilla" / "seed-1" / "status.json"
    status.write_text(json.dumps({"status": "running", "step": 20, "steps": 40}))  # killed
    assert cli("bench", "report", out)[0] == 0
    md = (out / "report.md").read_text()
    assert "| seeds | diverged | failed | unfinished | not trained |" in md
    assert re.search(r"\| vanilla \|.*\| 3 \| 0/3 \| 0/3 \| 2/3 \| \d/3 \|", md)
    # a finished suite's report has no such column
    assert "| unfinished |" not in (report[0] / "report.md").read_text()


def test_html_report_is_self_contained(report):
    out, _ = report
    page = (out / "report.html").read_text()
    sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(sources) == 3
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).verify()
    assert not re.search(r'(src|href)="(https?:|//|file:)', page)
    assert page.count("<table>") >= 4


def test_fmt_ci():
    assert fmt_ci({"n": 0, "mean": None, "ci_low": None, "ci_high": None}) == "–"
    assert fmt_ci({"n": 1, "mean": 7.0, "ci_low": None, "ci_high": None}) == "7 (n=1)"
    assert fmt_ci({"n": 5, "mean": 7.4, "ci_low": 6.29, "ci_high": 8.51}) == "7.4 ± 1.1"
    # three equal values whose mean is off by a rounding error have no interval to show
    assert fmt_ci({"n": 3, "mean": 0.1, "ci_low": 0.1 - 4.16e-17, "ci_high": 0.1 + 4.16e-17}) == "0.1 ± 0"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium); "
                    ".ci/run installs it")
def test_html_report_renders_in_headless_chromium(report, tmp_path):
    out, _ = report
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
         "--window-size=1200,2400", "--dump-dom", (out / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Benchmark report: report-test" in dom
    assert dom.count("<table>") >= 4 and "<td>vanilla</td>" in dom
    assert len(re.findall(r'<img[^>]*src="data:image/png;base64,', dom)) == 3
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    assert len(np.unique(pixels, axis=0)) > 50  # not a blank page
    # the plots drew: vanilla's line colour (matplotlib's first, #1f77b4) is on the screen
    assert (np.abs(pixels - [31, 119, 180]).sum(axis=1) < 30).sum() > 100
    assert Path(shot).stat().st_size > 10_000


#: appended to a copy of a report: on load, the page's and its widest table's widths
_MEASURE = """<script>window.addEventListener("load", function () {
  var d = document.documentElement, right = 0;
  document.querySelectorAll("table").forEach(function (t) {
    right = Math.max(right, t.getBoundingClientRect().right); });
  document.body.setAttribute("data-width", JSON.stringify(
    {scroll: d.scrollWidth, client: d.clientWidth, table: Math.ceil(right)})); });</script>"""


def _widths_at(page, tmp_path, width):
    """The page's scroll width, client width and widest table edge in a window ``width`` wide."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text() + _MEASURE)
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},900",
         "--virtual-time-budget=3000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'data-width="([^"]*)"', proc.stdout)
    assert found, "the measuring script did not run"
    return json.loads(found.group(1).replace("&quot;", '"'))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium); "
                    ".ci/run installs it")
def test_html_tables_fit_a_1400_pixel_window_without_scrolling(report, tmp_path, cli):
    """The test's report and the widest committed one (stacked-mnist-5k: 17 columns), rendered
    again by this code from its results.json, in a 1,400-pixel window: no horizontal scroll."""
    out, _ = report
    wide = tmp_path / "stacked"
    shutil.copytree(Path(__file__).parents[1] / "benchmarks" / "results" / "stacked-mnist-5k", wide)
    (wide / "report.html").unlink()
    code, _, err = cli("bench", "report", wide)
    assert code == 0, err
    for page in (out / "report.html", wide / "report.html"):
        got = _widths_at(page, tmp_path, 1400)
        assert got["scroll"] <= got["client"], (page, got)
        assert got["table"] <= got["client"], (page, got)


def test_every_dataset_has_the_reference_rows_scored_like_the_variants(report):
    out, results = report
    refs = results["datasets"]["ring8"]["references"]
    assert set(refs) == {"real data", "uniform noise", "one mode"}
    for name, cells in refs.items():
        assert cells["modes"]["n"] == 3, name  # one per seed, as the variants
    # the ceiling covers all 8 modes and one mode covers 1; uniform noise, with only 200
    # samples on modes of std 0.01, lands few points near any mode
    assert refs["real data"]["modes"]["mean"] == 8
    assert refs["one mode"]["modes"]["mean"] == 1
    assert refs["uniform noise"]["modes"]["mean"] < 8
    hq = {name: cells["high_quality_pct"]["mean"] for name, cells in refs.items()}
    assert hq["uniform noise"] < 5 < hq["real data"]
    proto = json.loads((out / "references" / "ring8" / "uniform-noise" / "seed-0" / "eval.json").read_text())
    assert proto["protocol"]["n_generated"] == 200 and proto["protocol"]["seed"] == 0
    # each variant's cells carry their paired tests against the two floors
    floors = results["datasets"]["ring8"]["variants"]["vanilla"]["metrics"]["modes"]["floors"]
    assert {t["floor"] for t in floors} == {"uniform noise", "one mode"}
    md = (out / "report.md").read_text()
    assert "| *real data* (ceiling) |" in md and "| *uniform noise* (floor) |" in md
    assert "not trained" in md


def test_against_floors_is_the_paired_test_of_the_ranking_holm_corrected():
    from ganagerie.bench.stats import against_floors

    variant = {0: 5.0, 1: 6.0, 2: 7.0, 3: 6.5}
    tests = against_floors({"v": variant}, {"low": {0: 1.0, 1: 1.2, 2: 1.1, 3: 0.9},
                                            "same": dict(variant)}, higher_is_better=True)
    by_floor = {t["floor"]: t for t in tests["v"]}
    assert by_floor["same"]["beats"] is False and by_floor["same"]["p"] == 1.0
    assert by_floor["low"]["beats"] is True and by_floor["low"]["mean_diff"] == pytest.approx(5.075)
    assert by_floor["low"]["p_holm"] == pytest.approx(min(1.0, 2 * by_floor["low"]["p"]))


def test_a_run_whose_discriminator_never_separates_is_not_trained():
    from ganagerie.bench.results import training_health

    flat = [(s, {"diag/d_accuracy": 0.52, "diag/d_gap": 0.001, "diag/g_grad_norm": 0.1})
            for s in (10, 20)]
    assert "D never separated" in training_health(flat)["not_trained"]
    learning = [*flat, (30, {"diag/d_accuracy": 0.8, "diag/d_gap": 0.3, "diag/g_grad_norm": 0.2})]
    assert training_health(learning)["not_trained"] is None
    no_grad = [(10, {"diag/d_accuracy": 0.9, "diag/d_gap": 1.0, "diag/g_grad_norm": 0.0})]
    assert "G never got a gradient" in training_health(no_grad)["not_trained"]
    assert training_health([])["not_trained"] is None  # nothing logged: nothing to say


def test_separation_is_not_judged_where_a_technique_transforms_what_d_sees(registry):
    from ganagerie.bench.results import training_health, transforming_techniques
    from ganagerie.bench.suite import RunSpec

    def spec(*names):
        config = {"regularizers": [{"name": n, "options": {}} for n in names]}
        return RunSpec("d/v/seed-0", "d", "v", 0, config)

    assert transforming_techniques(spec("spectral-norm", "diffaugment"), registry) == ["diffaugment"]
    assert transforming_techniques(spec("ada", "instance-noise", "pacgan"), registry) == [
        "ada", "instance-noise", "pacgan"]
    assert transforming_techniques(spec("r1", "not-installed-here"), registry) == []
    assert transforming_techniques(spec("diffaugment"), None) == []  # no registry: nothing known
    # digits/diffaug/seed-2 of the committed digits report: D's best window 0.5997 on augmented
    # batches, FID 12.9 (uniform noise: 267, real data: 2.5)
    low = [(s, {"diag/d_accuracy": 0.5998, "diag/d_gap": 0.127, "diag/g_grad_norm": 0.4})
           for s in (50, 100)]
    assert "D never separated" in training_health(low)["not_trained"]
    exempt = training_health(low, ["diffaugment"])
    assert exempt["not_trained"] is None and exempt["d_accuracy_max"] == 0.5998
    assert exempt["separation_on"] == "inputs transformed by diffaugment"
    stalled = [(50, {"diag/d_accuracy": 0.55, "diag/d_gap": 0.1, "diag/g_grad_norm": 0.0})]
    assert "G never got a gradient" in training_health(stalled, ["diffaugment"])["not_trained"]


def test_the_ceiling_draws_each_test_sample_once_before_repeating():
    from ganagerie.bench.references import Bank

    bank, noise = Bank(torch.arange(5.0).unsqueeze(1)), torch.Generator().manual_seed(0)
    drawn = torch.cat([bank(bank.sample_noise(3, noise)), bank(bank.sample_noise(4, noise))]).flatten()
    assert sorted(drawn[:5].tolist()) == [0, 1, 2, 3, 4]  # a permutation first, then it cycles


def test_sample_pictures_never_cover_another_variants_title(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ganagerie.bench.plots import samples_layout

    pictures = {}
    for i in range(8):  # two rows of square pictures, as an image suite's report has
        path = tmp_path / f"v{i}.png"
        Image.fromarray(np.full((457, 457, 3), 30 * i, dtype=np.uint8)).save(path)
        pictures[f"variant-{i}"] = path
    fig = samples_layout(pictures, "final samples")
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    titles = [ax.title.get_window_extent(renderer) for ax in fig.axes]
    images = [ax.images[0].get_window_extent(renderer) for ax in fig.axes]
    for i, title in enumerate(titles):
        assert title.height > 0
        assert not any(title.overlaps(image) for j, image in enumerate(images) if j != i), i
        assert not title.overlaps(images[i]) and title.y0 >= images[i].y1 - 1  # above its own


def _record(variant, seed, modes, ranges=True):
    protocol = {"metrics": {"mixture-modes": {"range": {"modes": [0.0, 8.0]}}}} if ranges else {}
    return {"key": f"ring8/{variant}/seed-{seed}", "dataset": "ring8", "variant": variant,
            "seed": seed, "status": "completed", "metrics": {"modes": modes},
            "metric_of": {"modes": "mixture-modes"}, "protocol": protocol}


def test_cells_stay_in_the_recorded_range_and_the_baseline_comparisons_are_written():
    from ganagerie.bench.report import baseline_blocks
    from ganagerie.bench.results import summarize_dataset

    runs = [_record("vanilla", s, m) for s, m in enumerate([8.0, 8.0, 7.0, 8.0, 8.0])]
    runs += [_record("wgan-gp", s, m) for s, m in enumerate([8.0, 1.0, 1.0, 1.0, 1.0])]
    runs += [_record("sngan", s, m) for s, m in enumerate([8.0, 8.0, 8.0, 7.0, 8.0])]
    ds = summarize_dataset(runs, {"modes": True}, "modes", baseline="vanilla")
    cell = ds["variants"]["wgan-gp"]["metrics"]["modes"]
    assert cell["ci_low"] == 0.0 and cell["ci_high"] < 8  # the t-interval reaches below 0
    assert fmt_ci(cell) == "2 [0, 6]"
    found = {c["variant"]: c for c in ds["baseline"]["comparisons"]["modes"]}
    assert found["wgan-gp"]["verdict"] == "worse" and found["sngan"]["verdict"] == "not decided"
    text = baseline_blocks(ds["baseline"], ds["metrics"])[0].text
    assert text.startswith("Against the baseline vanilla: wgan-gp is worse than vanilla on modes "
                           "(by -5 ± 4, p (Holm) = 0.03")
    assert text.endswith("The other comparison is not decided.")
    # an evaluation that recorded no range (before ranges existed): the plain t-interval
    old = summarize_dataset([_record(r["variant"], r["seed"], r["metrics"]["modes"], ranges=False)
                             for r in runs], {"modes": True}, "modes")
    assert old["variants"]["wgan-gp"]["metrics"]["modes"]["ci_low"] < 0 and "baseline" not in old


def test_a_suite_baseline_must_be_one_of_its_variants():
    from ganagerie.bench.suite import parse_suite
    from ganagerie.errors import UsageError

    suite = parse_suite('variants = ["vanilla", "wgan-gp"]\nbaseline = "vanilla"\ndatasets = ["ring8"]',
                        "s.toml")
    assert suite.baseline == "vanilla"
    with pytest.raises(UsageError, match="baseline 'vanila' is not one of the suite's variants"):
        parse_suite('variants = ["vanilla"]\nbaseline = "vanila"\ndatasets = ["ring8"]', "s.toml")


def test_published_figures_are_rows_beside_the_measured_ones_and_never_tested(report):
    out, results = report
    ring8 = results["datasets"]["ring8"]
    assert ring8["context"] == [{"label": "PacGAN's GAN", "source": "Lin et al. 2018, Table 1: 400k steps, "
                                 "± standard error over 10 trials",
                                 "values": {"modes": 6.3, "high_quality_pct": 98.2}}]
    text = (out / "report.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| *PacGAN's GAN* (published)"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    header = next(line for line in text.splitlines() if line.startswith("| variant |"))
    names = [c.strip() for c in header.strip("|").split("|")]
    assert cells[names.index("modes ↑")] == "6.3" and cells[names.index("reverse_kl ↓")] == ""
    assert "never tested against the rows above): *PacGAN's GAN*: Lin et al. 2018" in text
    assert "PacGAN's GAN" not in json.dumps(ring8["ranking"])  # a row to read, not a variant


@pytest.mark.parametrize("table, message", [
    ('label = "x"\ndataset = "grid25"\nsource = "s"\nvalues = { fid = 1 }', "not one of the suite's"),
    ('label = "x"\ndataset = "ring8"\nsource = "s"', "needs values"),
    ('label = "x"\ndataset = "ring8"\nsource = "s"\nvalues = { fid = nan }', "finite numbers"),
    ('label = "x"\ndataset = "ring8"\nsource = "s"\nvalues = { fid = 1 }\nvalue = 2', "value"),
])
def test_a_bad_context_row_is_one_line_naming_it(table, message):
    from ganagerie.bench.suite import parse_suite
    from ganagerie.errors import UsageError

    with pytest.raises(UsageError, match=message):
        parse_suite(f'variants = ["vanilla"]\ndatasets = ["ring8"]\n[[context]]\n{table}', "s.toml")
