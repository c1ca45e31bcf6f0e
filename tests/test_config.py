"""Config resolution: defaults < variant < flags < --set; every default filled in."""

import json

import pytest

from ganagerie.config import RunConfig, resolve_config
from ganagerie.errors import UsageError


def test_variant_preset_is_expanded_and_defaults_filled(registry):
    cfg = resolve_config(registry, dataset="ring8", variant="wgan-gp")
    assert cfg.loss.name == "wasserstein"
    assert [r.name for r in cfg.regularizers] == ["gradient-penalty"]
    assert cfg.regularizers[0].options == {"weight": 10.0, "target": 1.0, "one_sided": False}
    assert cfg.n_critic == 5 and cfg.lr_d == 1e-4 and tuple(cfg.betas_d) == (0.0, 0.9)
    assert cfg.arch.name == "mlp" and cfg.arch.options["latent_dim"] == 2
    assert cfg.dataset.options == {"n": 100_000, "seed": 0}
    assert cfg.n_preview == 1000


def test_images_default_to_dcgan(registry):
    cfg = resolve_config(registry, dataset="digits")
    assert cfg.arch.name == "dcgan" and cfg.n_preview == 64


def test_flags_and_sets_override_the_preset(registry):
    cfg = resolve_config(
        registry, dataset="ring8", variant="wgan-gp", loss="hinge",
        regularizers=["gradient-penalty:weight=1", "spectral-norm"],
        overrides={"steps": 7, "seed": 3},
        sets=["n_critic=2", "betas_g=0.5,0.99", "arch.g_width=16", "reg.spectral-norm.generator=true"],
    )
    assert cfg.loss.name == "hinge"
    assert [(r.name, r.options.get("weight")) for r in cfg.regularizers] == [
        ("gradient-penalty", 1.0), ("spectral-norm", None)]
    assert cfg.regularizers[1].options["generator"] is True
    assert cfg.n_critic == 2 and cfg.steps == 7 and cfg.seed == 3
    assert tuple(cfg.betas_g) == (0.5, 0.99) and cfg.arch.options["g_width"] == 16


def test_reg_none_clears_the_variants_regularizers(registry):
    cfg = resolve_config(registry, dataset="ring8", variant="wgan-gp", regularizers=["none"])
    assert cfg.regularizers == []


def test_config_round_trips_through_json(registry):
    cfg = resolve_config(registry, dataset="grid25", variant="feature-matching")
    again = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.loss_g_weight == 0.0


@pytest.mark.parametrize("kwargs, message", [
    ({"sets": ["steps=abc"]}, "steps: expected an integer"),
    ({"sets": ["nope=1"]}, "unknown key 'nope'"),
    ({"sets": ["reg.gradient-penalty.weight=1"]}, "add it with --reg gradient-penalty"),
    ({"sets": ["lr_d"]}, "write key=value"),
    ({"sets": ["ema_decay=0.9"]}, "unknown key .ema_decay."),
    ({"loss": "hingee"}, "did you mean 'hinge'"),
    ({"variant": "wgan-xy"}, "unknown variant 'wgan-xy'"),
    ({"arch": "mlp:width=3"}, "unknown option 'width' for architecture 'mlp'"),
    ({"overrides": {"device": "tpu"}}, "device must be"),
])
def test_bad_input_is_a_usage_error(registry, kwargs, message):
    with pytest.raises(UsageError, match=message):
        resolve_config(registry, dataset="ring8", **kwargs)


def test_unknown_config_field_is_rejected():
    with pytest.raises(UsageError, match="unknown config field 'stepz'; did you mean 'steps'"):
        RunConfig.from_dict({"dataset": "ring8", "loss": "hinge", "arch": "mlp", "stepz": 3})


def test_components_set_by_name_in_a_suite_or_on_the_command_line(registry):
    # suite files hand their values over as JSON: "rmsprop" with its quotes
    for text in ('optimizer_d="rmsprop"', "optimizer_d=rmsprop", "optimizer_d=rmsprop:alpha=0.9,momentum=0"):
        cfg = resolve_config(registry, dataset="ring8", sets=[text])
        assert cfg.optimizer_d.name == "rmsprop", text
    assert cfg.optimizer_d.options["alpha"] == 0.9
