"""``simfunc map`` end to end at tiny size: factory + state dict, TorchScript, simfunc model.pt."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from simfunc.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FACTORIES = textwrap.dedent(
    """
    import torch
    from torch import nn

    def convnet():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(),
                             nn.Sequential(nn.Conv2d(6, 6, 3, padding=1), nn.ReLU()),
                             nn.Flatten(), nn.Linear(384, 10))

    def mlp():
        torch.manual_seed(1)
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 24), nn.Tanh(), nn.Linear(24, 10))
    """
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-map")
    (root / "tinynets_for_map.py").write_text(FACTORIES)
    sys.path.insert(0, str(root))
    import tinynets_for_map

    torch.save(tinynets_for_map.convnet().state_dict(), root / "conv.pt")
    traced = torch.jit.trace(tinynets_for_map.mlp(), torch.zeros(2, 1, 8, 8))
    torch.jit.save(traced, str(root / "mlp_traced.pt"))
    rng = np.random.default_rng(0)
    np.save(root / "inputs.npy", rng.standard_normal((120, 1, 8, 8)).astype(np.float32))
    yield root
    sys.path.remove(str(root))


def test_factory_with_state_dict_against_torchscript_on_digits(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    out = workdir / "out-digits"
    status = main(["map", "--model", "tinynets_for_map:convnet", "--state-dict", "conv.pt",
                   "--model", "mlp_traced.pt", "--data", "digits", "--channels", "1",
                   "--image-size", "8", "--out", str(out), "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "linear_cka (exact, debiased) of 6 x 4 layers on 360 examples" in printed
    frame = pd.read_csv(out / "layer_map.csv", index_col=0)
    assert frame.shape == (6, 4) and np.isfinite(frame.values).all()
    assert list(frame.columns) == ["0", "1", "2", "3"]
    assert (out / "layer_map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "layer_map.html").read_text()
    assert "data:image/png;base64," in page and "2.0" in page
    record = json.loads((out / "layer_map.json").read_text())
    assert record["settings"]["estimator"] == "exact"
    assert record["settings"]["model_a"]["state_dict"] == "conv.pt"
    np.testing.assert_allclose(record["values"], frame.values, atol=1e-6)


def test_self_map_on_an_npy_array_with_minibatch(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    out = workdir / "out-self"
    status = main(["map", "--model", "tinynets_for_map:mlp", "--data", "inputs.npy",
                   "--estimator", "minibatch", "--batch-size", "40", "--layers-a", "1,2,3",
                   "--out", str(out), "--no-progress"])
    assert status == 0
    frame = pd.read_csv(out / "layer_map.csv", index_col=0)
    np.testing.assert_allclose(np.diag(frame.values), 1.0, atol=1e-6)
    assert "minibatch, debiased" in capsys.readouterr().out


def test_simfunc_model_file_and_bad_inputs(workdir, monkeypatch, capsys):
    from simfunc.train.supervised import TrainConfig, train

    monkeypatch.chdir(workdir)
    train(TrainConfig(arch="cnn", width=0.25, epochs=1, batch_size=128), workdir / "cnn",
          progress=False)
    out = workdir / "out-simfunc"
    status = main(["map", "--model", str(workdir / "cnn"), "--model", "tinynets_for_map:mlp",
                   "--data", "digits", "--channels", "1", "--image-size", "8",
                   "--layers-a", "features,logits", "--layers-b", "2,3", "--measure", "cca",
                   "--cache-dir", str(workdir / "cache"), "--out", str(out), "--no-progress"])
    assert status == 0
    frame = pd.read_csv(out / "layer_map.csv", index_col=0)
    assert list(frame.index) == ["features", "logits"] and list(frame.columns) == ["2", "3"]
    assert ((frame.values > 0) & (frame.values <= 1)).all()
    capsys.readouterr()

    def error_of(argv):
        assert main(argv + ["--no-progress", "--out", str(workdir / "bad")]) == 2
        return capsys.readouterr().err

    assert "'body.9' is not a submodule" in error_of(
        ["map", "--model", str(workdir / "cnn"), "--data", "digits", "--layers-a", "body.9"])
    assert "neither a simfunc model file nor TorchScript" in error_of(
        ["map", "--model", "conv.pt", "--data", "inputs.npy"])
    assert "does not fit" in error_of(
        ["map", "--model", "tinynets_for_map:mlp", "--state-dict", "conv.pt",
         "--data", "inputs.npy"])
    assert "cannot import" in error_of(["map", "--model", "no_such_pkg:net", "--data", "x.npy"])
    assert "no such file" in error_of(
        ["map", "--model", "tinynets_for_map:mlp", "--data", "missing.npy"])


@pytest.mark.slow  # a fresh interpreter imports torch
def test_help_runs_as_a_command():
    result = subprocess.run([sys.executable, "-m", "simfunc", "map", "--help"],
                            capture_output=True, text=True, check=True,
                            env={**__import__("os").environ,
                                 "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    assert "--state-dict" in result.stdout and "TorchScript" in result.stdout
