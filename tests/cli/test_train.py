"""``simfunc train`` and the model mode of ``simfunc compare``, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simfunc.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMFUNC_CACHE", str(tmp_path / "cache"))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def needs_measures():
    """The model mode prints every registered measure: it needs both registries."""
    pytest.importorskip("simfunc.representational", reason="simfunc.representational not installed")
    pytest.importorskip("simfunc.functional", reason="simfunc.functional not installed")


def _small_run(arch: str, out: Path) -> list[str]:
    """``simfunc train``'s arguments for a small digits run of ``arch`` written to ``out``."""
    return ["train", "--arch", arch, "--dataset", "digits", "--epochs", "3", "--width", "0.5",
            "--checkpoint-epochs", "0,3", "--quiet", "--out", str(out)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two small digits networks trained through the command line."""
    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for name, arch in (("cnn", "cnn"), ("mlp", "mlp")):
        out = root / name
        status = main(_small_run(arch, out))
        assert status == 0
        runs[name] = out
    return runs


def test_train_writes_the_model_and_the_metrics(trained, capsys):
    out = trained["cnn"]
    assert (out / "model.pt").is_file() and (out / "checkpoint-epoch-000.pt").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.8
    assert metrics["config"]["arch"] == "cnn" and metrics["config"]["width"] == 0.5
    # Rerunning the finished command prints the result without training again.
    stamp = (out / "model.pt").stat().st_mtime_ns
    assert main(_small_run("cnn", out)) == 0
    printed = capsys.readouterr().out
    assert f"test accuracy: {metrics['test_accuracy']:.4f}" in printed
    assert str(out / "model.pt") in printed and str(out / "metrics.json") in printed
    assert (out / "model.pt").stat().st_mtime_ns == stamp


def test_recipe_options_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--arch", "mlp", "--dataset", "digits", "--epochs", "1", "--quiet"]
    recipe = ["--schedule", "onecycle", "--warmup", "0.2", "--label-smoothing", "0.1",
              "--nesterov", "--channels-last", "--out", str(out)]  # fmt: skip
    assert main(argv + recipe) == 0
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert (config["schedule"], config["warmup"], config["label_smoothing"]) == (
        "onecycle", 0.2, 0.1,
    )  # fmt: skip
    assert config["nesterov"] is True and config["channels_last"] is True
    assert "precision" not in config  # at its default: not part of the configuration


def test_thesis_checkpoints_from_the_command_line(tmp_path):
    assert (
        main(
            [
                "train",
                "--arch",
                "mlp",
                "--dataset",
                "digits",
                "--epochs",
                "4",
                "--width",
                "0.25",
                "--checkpoint-epochs",
                "thesis",
                "--quiet",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    # The thesis list scaled to 4 epochs: 0, 1, 2, 3, 4.
    found = sorted(p.name for p in tmp_path.glob("checkpoint-epoch-*.pt"))
    assert found == [f"checkpoint-epoch-00{e}.pt" for e in range(5)]


@pytest.mark.parametrize("command", [["train", "--help"], ["compare", "--help"]])
def test_help_explains_every_option(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(command)
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    options = {
        "train": [
            "--arch",
            "--dataset",
            "--data-root",
            "--epochs",
            "--lr",
            "--seed",
            "--width",
            "--batch-size",
            "--schedule",
            "--checkpoint-epochs",
            "--subset",
            "--out",
            "--warmup",
            "--label-smoothing",
            "--nesterov",
            "--channels-last",
            "--precision",
        ],
        "compare": [
            "--model",
            "--dataset",
            "--data-root",
            "--split",
            "--layer",
            "--subset",
            "--measure",
            "--format",
            "FILE",
        ],
    }[command[0]]
    for option in options:
        assert option in text


def one_line_error(capsys, argv: list[str], expected: str) -> None:
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse: usage, then one error line
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"simfunc {argv[0]}: error:") and expected in last, err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "--arch", "resnet9", "--dataset", "digits"], "invalid choice"),
        (["train", "--arch", "cnn"], "--dataset"),
        (["train", "--arch", "cnn", "--dataset", "digits", "--epochs", "x"], "invalid int"),
        (["train", "--arch", "cnn", "--dataset", "digits", "--epochs", "-2"], "--epochs"),
        (["train", "--arch", "cnn", "--dataset", "digits", "--width", "0"], "width"),
        (
            ["train", "--arch", "cnn", "--dataset", "digits", "--checkpoint-epochs", "0,x"],
            "checkpoint-epochs",
        ),
        (
            [
                "train",
                "--arch",
                "cnn",
                "--dataset",
                "digits",
                "--epochs",
                "2",
                "--checkpoint-epochs",
                "5",
            ],
            "after the last epoch",
        ),
        (["train", "--arch", "cnn", "--dataset", "/no/such/folder"], "neither a dataset name"),
        (["train", "--arch", "cnn", "--dataset", "digits", "--warmup", "1.5"], "warmup"),
        (["train", "--arch", "cnn", "--dataset", "digits", "--precision", "fp8"], "invalid choice"),
        (
            ["train", "--arch", "cnn", "--dataset", "digits", "--nesterov", "--momentum", "0"],
            "nesterov needs momentum",
        ),
        (["compare", "--model", "a.pt", "--dataset", "digits"], "--model twice"),
        (["compare", "--model", "a.pt", "--model", "b.pt"], "--dataset"),
        (["compare", "x.npy", "--model", "a.pt", "--model", "b.pt"], "not both"),
        (["compare", "x.npy"], "two FILEs"),
        (["compare", "x.npy", "y.npy", "--dataset", "digits"], "only apply to model mode"),
        (
            ["compare", "--model", "a", "--model", "b", "--dataset", "digits", "--outputs"],
            "only apply to file mode",
        ),
    ],
)
def test_bad_arguments_give_a_one_line_error(argv, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(capsys, argv, expected)


def test_a_model_that_does_not_exist_is_a_clean_error(capsys, tmp_path):
    needs_measures()
    one_line_error(
        capsys,
        [
            "compare",
            "--model",
            str(tmp_path / "none.pt"),
            "--model",
            str(tmp_path / "none.pt"),
            "--dataset",
            "digits",
        ],
        "does not exist",
    )


def compare_json(capsys, argv: list[str]) -> dict[str, dict]:
    assert main(["compare", *argv, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    return {row["measure"]: row for row in rows}


def test_compare_two_trained_networks(trained, capsys):
    needs_measures()
    from simfunc.functional import OUTPUT_MEASURES
    from simfunc.representational import MEASURES

    rows = compare_json(
        capsys,
        [
            "--model",
            str(trained["cnn"]),
            "--model",
            str(trained["mlp"] / "model.pt"),
            "--dataset",
            "digits",
        ],
    )
    for name in MEASURES:
        assert rows[name]["kind"] == "representational" and rows[name]["layer"] == "features"
    for name in OUTPUT_MEASURES:
        assert rows[name]["kind"] == "output" and rows[name]["value"] is not None
    assert 0.0 < rows["linear_cka"]["value"] < 1.0
    assert 0.0 < rows["jsd"]["value"] < 1.0
    # The reported accuracies are the ones training measured on the same test split.
    for label, name in (("A", "cnn"), ("B", "mlp")):
        metrics = json.loads((trained[name] / "metrics.json").read_text())
        assert rows[f"accuracy ({label})"]["value"] == pytest.approx(metrics["test_accuracy"])


def test_a_network_compared_with_itself(trained, capsys):
    needs_measures()
    model = str(trained["cnn"])
    rows = compare_json(capsys, ["--model", model, "--model", model, "--dataset", "digits"])
    assert rows["linear_cka"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert rows["jsd"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert rows["disagreement"]["value"] == 0.0
    assert rows["spearman"]["value"] == pytest.approx(1.0, abs=1e-9)


def test_compare_a_checkpoint_with_the_final_model_on_a_subset(trained, capsys):
    needs_measures()
    assert (
        main(
            [
                "compare",
                "--model",
                str(trained["cnn"] / "checkpoint-epoch-000.pt"),
                "--model",
                str(trained["cnn"]),
                "--dataset",
                "digits",
                "--subset",
                "100",
                "--layer",
                "last_conv",
                "--measure",
                "linear_cka",
                "--measure",
                "jsd",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("100 examples of digits (test)")
    table = {line.split()[0]: line.split() for line in out.splitlines()[3:]}
    assert set(table) == {"linear_cka", "jsd", "accuracy"}
    assert 0.0 < float(table["linear_cka"][3]) < 1.0


def test_file_mode_still_works(tmp_path, capsys):
    needs_measures()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 6))
    np.save(tmp_path / "a.npy", X)
    np.save(tmp_path / "b.npy", X @ np.linalg.qr(rng.normal(size=(6, 6)))[0])
    rows = compare_json(
        capsys, [str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--measure", "linear_cka"]
    )
    assert rows["linear_cka"]["value"] == pytest.approx(1.0)


@pytest.mark.slow  # a fresh interpreter imports torch
def test_the_module_runs_as_a_command(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "simfunc",
            "train",
            "--arch",
            "cnn",
            "--dataset",
            "digits",
            "--epochs",
            "0",
            "--out",
            str(tmp_path / "untrained"),
            "--quiet",
            "--threads",
            "1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO / "src"),
            "SIMFUNC_CACHE": str(tmp_path / "cache"),
        },
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy:" in result.stdout
    assert (tmp_path / "untrained" / "model.pt").is_file()
