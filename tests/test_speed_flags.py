"""The speed flags: ``compile`` (torch.compile of G and D) and ``precision = "bf16"`` (autocast)."""

import json

import helpers
import pytest
import torch

from ganagerie.config import PRESET_FIELDS, RunConfig, resolve_config
from ganagerie.errors import UsageError
from ganagerie.files import read_jsonl
from ganagerie.train.checkpoint import read_checkpoint
from ganagerie.train.trainer import Trainer, train

TINY = helpers.tiny(log_every=5, checkpoint_every=10)
FLAGS = ["--compile", "--precision", "bf16"]


def losses(run_dir):
    return [{k: v for k, v in r.items() if k not in ("steps_per_s", "time_s")}
            for r in read_jsonl(run_dir / "metrics.jsonl")]


def tiny(registry, steps, extra=()):
    return resolve_config(registry, dataset="ring8", variant="vanilla", overrides={"steps": steps},
                          sets=[*TINY, *extra])


def test_defaults_are_eager_fp32_and_the_flags_are_not_preset_fields(registry):
    cfg = tiny(registry, 1)
    assert cfg.compile is False and cfg.precision == "fp32"
    assert "compile" not in PRESET_FIELDS and "precision" not in PRESET_FIELDS  # machine, not method
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("compile", "precision")}
    assert RunConfig.from_dict(old) == cfg  # a config.json written before the flags existed


@pytest.mark.parametrize("assignment, message", [
    ("precision=fp16", "precision must be fp32 or bf16, got 'fp16'"),
    ("compile=maybe", "compile: expected true or false"),
])
def test_bad_values_are_one_line_usage_errors(registry, assignment, message):
    with pytest.raises(UsageError, match=message):
        tiny(registry, 1, [assignment])


def test_bf16_runs_the_step_under_autocast_and_keeps_fp32_weights(registry, tmp_path):
    fp32 = Trainer(tiny(registry, 1), registry, tmp_path / "a")
    bf16 = Trainer(tiny(registry, 1, ["precision=bf16"]), registry, tmp_path / "b")
    rows = [t.stepper.train_step()[0] for t in (fp32, bf16)]
    # the same step, in a coarser arithmetic: close to fp32 but not equal to it
    assert not torch.equal(rows[0], rows[1])
    assert torch.allclose(rows[0], rows[1], rtol=0.05, atol=0.05)
    assert all(p.dtype == torch.float32 for p in [*bf16.G.parameters(), *bf16.D.parameters()])
    with bf16.stepper.precision():
        assert bf16.G(bf16.noise()[0]).dtype == torch.bfloat16
    assert bf16.sample(bf16.preview_noise).dtype == torch.float32  # previews and evaluation: fp32


def test_both_flags_train_from_the_command_line_and_resume_as_an_uninterrupted_run(cli, registry, tmp_path):
    sets = [a for s in TINY for a in ("--set", s)]
    common = ["train", "--dataset", "ring8", "--variant", "vanilla", *sets, *FLAGS, "--quiet"]
    assert cli(*common, "--steps", "10", "--out", tmp_path / "part")[0] == 0
    config = json.loads((tmp_path / "part" / "config.json").read_text())
    assert config["compile"] is True and config["precision"] == "bf16"
    code, out, err = cli("train", "--out", tmp_path / "part", "--resume", "--steps", "20", "--quiet")
    assert code == 0, err
    assert cli(*common, "--steps", "20", "--out", tmp_path / "full")[0] == 0
    assert [r["step"] for r in losses(tmp_path / "part")] == [5, 10, 15, 20]
    assert losses(tmp_path / "part") == losses(tmp_path / "full")
    part, full = (read_checkpoint(tmp_path / d / "checkpoints" / "last.json") for d in ("part", "full"))
    eager = Trainer(tiny(registry, 1), registry, tmp_path / "eager")
    # the eager networks' keys: a compiled run's checkpoint loads without compile
    assert part["generator"].keys() == eager.G.state_dict().keys()
    assert part["discriminator"].keys() == eager.D.state_dict().keys()
    for net in ("generator", "discriminator"):
        for name, tensor in full[net].items():
            assert torch.equal(tensor, part[net][name]), (net, name)


def test_compile_on_a_gradient_penalty_is_a_one_line_error(registry, tmp_path):
    cfg = resolve_config(registry, dataset="ring8", variant="wgan-gp", overrides={"steps": 2},
                         sets=[*TINY, "compile=true"])
    with pytest.raises(UsageError, match="torch.compile failed on this run .*double backward.*"
                                         "without compile"):
        train(cfg, registry, tmp_path / "gp", progress=False)
