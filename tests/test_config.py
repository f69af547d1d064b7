"""``schemas/config.py``: one validated source for every setting, and the CLI flags built from it."""
import dataclasses
import json

import pytest

from colornet.pipeline import cli
from colornet.schemas import config


def test_profiles_build_validated_pipeline_configs():
    for name in config.PROFILES:
        built = config.pipeline_config(name, "photos", "work")
        assert isinstance(built.model, config.ModelConfig) and isinstance(built.training, config.TrainingConfig)
    cpu = config.pipeline_config("cpu", "photos", "work", model={"image_size": 96}, train_steps=7)
    assert (cpu.model.image_size, cpu.model.variant, cpu.model.lr_schedule, cpu.model.loss,
            cpu.model.encoder_trainable_stages, cpu.train_steps) == (96, "lite0_unet", "one_cycle", "huber", 0, 7)
    assert config.pipeline_config("article", "photos", "work").model.uses_classifier


@pytest.mark.parametrize("section, key", [("model", "image_szie"), ("training", "batch"), ("ingestion", "max_sise"),
                                          ("blessing", "max_ab_mse")])
def test_unknown_keys_are_errors_naming_the_key_and_the_known_ones(section, key):
    with pytest.raises(config.ConfigError, match=key) as raised:
        config.pipeline_config("demo", "photos", "work", **{section: {key: 1}})
    known = [field.name for field in dataclasses.fields(config.SECTIONS[section])]
    assert str(known) in str(raised.value)


@pytest.mark.parametrize("bad", [{"variant": "gamma"}, {"backbone": "resnet"}, {"image_size": 60}, {"loss": "l7"},
                                 {"backbone": "mobilenet_v2", "backbone_size": 16}])
def test_model_values_outside_their_choices_are_errors(bad):
    with pytest.raises(config.ConfigError):
        config.ModelConfig(**bad)


def test_json_numbers_become_the_fields_types():
    # TFX hands custom_config over as JSON (and ExampleGen's as a protobuf Struct: every number a float).
    model = config.ModelConfig.from_dict(json.loads('{"image_size": 64.0, "learning_rate": 1}'))
    assert model.image_size == 64 and isinstance(model.image_size, int) and model.learning_rate == 1.0
    with pytest.raises(config.ConfigError, match="integer"):
        config.ModelConfig.from_dict({"image_size": 64.5})


def test_sections_round_trip_through_dicts():
    built = config.pipeline_config("full", "photos", "work", training={"augment": False})
    assert config.TrainingConfig.from_dict(built.trainer_custom_config["training"]) == built.training
    assert config.ModelConfig.from_dict(built.trainer_custom_config["model"]) == built.model


def test_cli_flags_come_from_the_config_fields(tmp_path, capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["run", "--images", "x", "--profile", "article", "--image-size", "64", "--no-augment",
                              "--loss", "huber", "--max-side", "512"])
    from colornet.pipeline.commands import config_from_args

    built = config_from_args(args, "x")
    assert (built.model.image_size, built.model.loss, built.training.augment, built.ingestion.max_side) == \
        (64, "huber", False, 512)
    assert built.model.variant == "fusion"  # not given: the profile's
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--images", "x", "--variant", "gamma"])
    assert "invalid choice: 'gamma'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # every field's help, as argparse formats it ("95 %" is not a format)
        parser.parse_args(["run", "--help"])
    printed = " ".join(capsys.readouterr().out.split())
    assert "its 95 % interval" in printed and "--semantic-weight SEMANTIC_WEIGHT" in printed


def test_an_invalid_value_from_the_command_line_is_a_plain_error(tmp_path, capsys):
    assert cli.main(["run", "--images", str(tmp_path), "--image-size", "60", "--workdir", str(tmp_path / "w")]) == 2
    assert "model.image_size must be a positive multiple of 8, got 60" in capsys.readouterr().err
