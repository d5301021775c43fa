"""Settings overrides: typed, checked, from the command line and TOML."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from simfunc import InputError
from simfunc.settings import (
    apply_overrides,
    flat_settings,
    has_setting,
    parse_assignments,
    read_toml,
    settings_dict,
)


@dataclass(frozen=True)
class Example:
    epochs: int = 2
    lr: float = 0.1
    archs: tuple[str, ...] = ("vgg11",)
    seeds: tuple[int, ...] = (0, 1)
    augment: bool = True
    data_root: str | None = None


def test_command_line_strings_are_parsed_by_field_type():
    out = apply_overrides(
        Example(),
        parse_assignments(["epochs=5", "lr=1e-3", "archs=resnet18, vgg16", "seeds=3", "augment=no", "data-root=/d"]),
    )
    assert out == Example(epochs=5, lr=1e-3, archs=("resnet18", "vgg16"), seeds=(3,), augment=False, data_root="/d")


def test_none_is_accepted_for_optional_fields():
    assert apply_overrides(Example(data_root="x"), {"data_root": "none"}).data_root is None


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"epoch": "3"}, "unknown setting 'epoch'.*valid settings: archs, augment"),
        ({"epochs": "three"}, "expected an integer"),
        ({"epochs": 2.5}, "expected an integer"),
        ({"lr": "fast"}, "expected a number"),
        ({"augment": "maybe"}, "expected true or false"),
        ({"seeds": "0,x"}, "expected an integer"),
    ],
)
def test_bad_overrides_name_the_setting(overrides, fragment):
    with pytest.raises(InputError, match=fragment):
        apply_overrides(Example(), overrides)


def test_bad_assignment_syntax():
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_assignments(["epochs"])


def test_toml_top_level_and_section(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('epochs = 4\n[example]\narchs = ["mlp", "cnn"]\nlr = 0.5\n[other]\nepochs = 99\n')
    values = read_toml(path, section="example")
    assert values == {"epochs": 4, "archs": ["mlp", "cnn"], "lr": 0.5}
    out = apply_overrides(Example(), values, source=str(path))
    assert out.epochs == 4 and out.archs == ("mlp", "cnn") and out.lr == 0.5
    assert settings_dict(out)["archs"] == ["mlp", "cnn"]


def test_toml_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3")
    with pytest.raises(InputError, match="not valid TOML"):
        read_toml(bad)


@dataclass(frozen=True)
class Training:
    epochs: int = 6
    lr: float = 0.05
    train_subset: int | None = None


@dataclass(frozen=True)
class Nested:
    archs: tuple[str, ...] = ("mlp",)
    training: Training = Training()


def test_nested_settings_take_dotted_keys_tables_and_instances():
    assert apply_overrides(Nested(), parse_assignments(["training.epochs=3", "archs=cnn"])) == (
        Nested(archs=("cnn",), training=Training(epochs=3)))
    both = apply_overrides(Nested(), {"training": {"lr": "0.5"}, "training.epochs": 2})
    assert both.training == Training(epochs=2, lr=0.5)
    assert apply_overrides(Nested(), {"training": Training(epochs=9)}).training.epochs == 9
    assert apply_overrides(Nested(), {"training.train_subset": "none"}).training.train_subset is None


def test_nested_settings_round_trip_through_their_stored_dict():
    changed = apply_overrides(Nested(), {"training.epochs": 4, "archs": "a,b"})
    stored = settings_dict(changed)
    assert stored == {"archs": ["a", "b"], "training": {"epochs": 4, "lr": 0.05,
                                                        "train_subset": None}}
    assert apply_overrides(Nested(), stored) == changed
    assert flat_settings(changed) == {"archs": ("a", "b"), "training.epochs": 4,
                                      "training.lr": 0.05, "training.train_subset": None}
    assert has_setting(changed, "training.epochs") and has_setting(changed, "training")
    assert not has_setting(changed, "epochs") and not has_setting(changed, "archs.x")


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"training.epoch": "3"}, "unknown setting 'training.epoch' for Training; valid "
                                  "settings: training.epochs, training.lr"),
        ({"epochs": "3"}, "unknown setting 'epochs'"),
        ({"archs.x": "3"}, "unknown setting 'archs.x'"),
        ({"training.epochs": "many"}, "training.epochs: expected an integer"),
        ({"training": 5}, "expected a table of Training settings"),
    ],
)
def test_bad_nested_overrides_name_the_dotted_setting(overrides, fragment):
    with pytest.raises(InputError, match=fragment):
        apply_overrides(Nested(), overrides)


def test_toml_nested_tables(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[nested]\narchs = ["cnn"]\n[nested.training]\nlr = 0.2\ntrain-subset = 50\n')
    values = read_toml(path, section="nested")
    assert values == {"archs": ["cnn"], "training": {"lr": 0.2, "train_subset": 50}}
    out = apply_overrides(Nested(), values)
    assert out.training == Training(lr=0.2, train_subset=50)
