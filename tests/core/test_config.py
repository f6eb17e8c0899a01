"""TrainConfig: every option is validated on creation, errors name the option, and it round-trips."""

from __future__ import annotations

import json

import pytest

from core.config import TrainConfig
from core.errors import ValidationError

BAD_VALUES = [
    ("arch", "resnet9000", "resnet9000"),
    ("kind", "sweep", "run kind"),
    ("optimizer", "rmsprop", "optimizer"),
    ("scheduler", "onecycle", "scheduler"),
    ("augment", "wild", "augmentation"),
    ("balance", "oversample", "class balance"),
    ("epochs", 0, "epochs"),
    ("epochs", 1001, "epochs"),
    ("epochs", 2.5, "epochs"),
    ("epochs", True, "epochs"),
    ("batch_size", 0, "batch size"),
    ("batch_size", "32", "batch size"),
    ("lr", 0.0, "learning rate"),
    ("lr", 11.0, "learning rate"),
    ("lr", float("nan"), "learning rate"),
    ("image_size", 16, "image size"),
    ("image_size", 2048, "image size"),
    ("image_size", 64.0, "image size"),
    ("momentum", 1.0, "momentum"),
    ("weight_decay", -0.1, "weight decay"),
    ("warmup_epochs", 11, "warm-up epochs"),  # more than the 10 epochs
    ("label_smoothing", 0.6, "label smoothing"),
    ("freeze_epochs", 11, "frozen-backbone epochs"),
    ("early_stop", -1, "early-stopping patience"),
    ("nproc", 0, "processes"),
    ("nproc", 65, "processes"),
    ("val_fraction", 0.0, "validation fraction"),
    ("val_fraction", 0.6, "validation fraction"),
    ("num_workers", -1, "data-loader workers"),
    ("seed", "7", "seed"),
    ("seed", 1.5, "seed"),
]


@pytest.mark.parametrize(("option", "value", "named"), BAD_VALUES, ids=[f"{o}={v!r}" for o, v, _ in BAD_VALUES])
def test_bad_value_raises_naming_the_option(option, value, named):
    with pytest.raises(ValidationError) as err:
        TrainConfig(**{option: value})
    message = str(err.value)
    assert named in message
    if not isinstance(value, float) or value == value:  # nan prints as nan
        assert repr(value) in message or str(value) in message


def test_choice_errors_list_the_valid_options():
    with pytest.raises(ValidationError, match="sgd, adam, adamw"):
        TrainConfig(optimizer="lion")
    with pytest.raises(ValidationError, match="efficientnet_lite0.*tiny_cnn"):
        TrainConfig(arch="vgg16")


def test_batch_must_divide_over_the_processes():
    with pytest.raises(ValidationError, match="batch size 30 .* 4 processes"):
        TrainConfig(batch_size=30, nproc=4)
    assert TrainConfig(batch_size=32, nproc=4).nproc == 4


def test_boundaries_are_accepted():
    config = TrainConfig(
        epochs=1,
        warmup_epochs=0,
        batch_size=1,
        lr=1e-7,
        image_size=32,
        momentum=0.0,
        weight_decay=0.0,
        label_smoothing=0.5,
        val_fraction=0.5,
        nproc=1,
        early_stop=0,
    )
    assert config.image_size == 32
    assert TrainConfig(epochs=1000, warmup_epochs=1000, freeze_epochs=1000, image_size=1024).epochs == 1000


def test_config_is_frozen():
    config = TrainConfig()
    with pytest.raises(AttributeError):
        config.epochs = 3  # type: ignore[misc]


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValidationError, match="unknown training settings: dropout, epoch$"):
        TrainConfig.from_dict({"epoch": 3, "dropout": 0.2, "lr": 0.01})


def test_from_dict_validates_like_the_constructor():
    with pytest.raises(ValidationError, match="optimizer"):
        TrainConfig.from_dict({"optimizer": "lamb"})


def test_round_trip_through_json():
    config = TrainConfig(
        arch="tiny_cnn",
        kind="quick",
        epochs=7,
        batch_size=12,
        lr=3e-4,
        image_size=96,
        optimizer="sgd",
        nesterov=False,
        scheduler="plateau",
        warmup_epochs=2,
        augment="strong",
        label_smoothing=0.1,
        balance="sampler",
        freeze_epochs=1,
        early_stop=3,
        pretrained=False,
        seed=42,
        nproc=2,
        amp=False,
        channels_last=False,
        val_fraction=0.2,
        num_workers=2,
    )
    values = config.to_dict()
    assert values["scheduler"] == "plateau" and values["seed"] == 42 and len(values) == 27
    again = TrainConfig.from_dict(json.loads(json.dumps(values)))
    assert again == config
    distil = TrainConfig(arch="tiny_cnn", kind="distill", teacher_run=5, kd_temperature=2.5, kd_weight=0.4)
    assert TrainConfig.from_dict(json.loads(json.dumps(distil.to_dict()))) == distil
    assert TrainConfig.from_dict({}) == TrainConfig()


@pytest.mark.parametrize("option", ["pretrained", "amp", "nesterov", "channels_last"])
def test_yes_no_options_must_be_booleans(option):
    with pytest.raises(ValidationError, match=option.replace("_", " ")):
        TrainConfig.from_dict({option: "no"})


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_outside_the_usable_range_is_refused(seed):
    with pytest.raises(ValidationError, match="seed"):
        TrainConfig(seed=seed)


@pytest.mark.parametrize(
    "bad",
    [
        dict(seed=-1),
        dict(batch_size=7, nproc=2),
        dict(optimizer="x"),
        dict(lr=99.0),
        dict(epochs=2.5),
        dict(pretrained="yes"),
    ],
)
def test_training_setting_errors_carry_a_key_translated_in_both_languages(bad):
    from core import i18n

    with pytest.raises(ValidationError) as caught:
        TrainConfig(**bad)
    key = caught.value.key
    assert key and key in i18n.EN and key in i18n.KO
    korean = i18n.t(key, "ko", **caught.value.detail)
    assert "{" not in korean and korean != i18n.t(key, "en", **caught.value.detail)


def test_unknown_training_settings_carry_a_key():
    with pytest.raises(ValidationError) as caught:
        TrainConfig.from_dict({"epochs": 1, "colour": "red"})
    assert caught.value.key == "train.error.unknown_settings" and caught.value.detail["names"] == "colour"
