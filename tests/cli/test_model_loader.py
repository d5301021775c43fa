"""One model loader and one layer recorder for compare, map and study.

`simfunc compare` takes the model specs `simfunc map` takes (TorchScript, a factory with its
state dict, a simfunc model.pt); TorchScript layers, a module's input (NAME:input) and the
model's own output are recorded by `simfunc.extract` exactly as the Python originals'.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from simfunc import functional as fn
from simfunc import representational as rep
from simfunc.cli import main
from simfunc.errors import InputError
from simfunc.extract import MODEL_OUTPUT, activations, default_feature_layer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NETS = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Small(nn.Module):
        def __init__(self, hidden=10):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(6, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                      nn.ReLU(inplace=True))
            self.fc = nn.Linear(hidden, 3)

        def forward(self, x):
            return self.fc(self.body(x) * 2.0)

    def small():
        torch.manual_seed(7)
        return Small()
    """
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("loader")
    (root / "loader_nets.py").write_text(NETS)
    sys.path.insert(0, str(root))
    import loader_nets

    torch.manual_seed(0)
    a = loader_nets.Small().eval()
    torch.manual_seed(1)
    b = loader_nets.Small(hidden=14).eval()
    X = torch.randn(50, 6)
    torch.jit.save(torch.jit.script(a), str(root / "a.ts"))
    torch.jit.save(torch.jit.trace(b, X[:3]), str(root / "b.ts"))
    torch.save(loader_nets.small().state_dict(), root / "small.pt")
    np.save(root / "x.npy", X.numpy())
    yield root, a, b, X
    sys.path.remove(str(root))


def test_torchscript_records_inputs_and_outputs_like_its_python_original(workdir):
    root, a, b, X = workdir
    for python, path in ((a, "a.ts"), (b, "b.ts")):
        script = torch.jit.load(str(root / path))
        assert default_feature_layer(script) == default_feature_layer(python) == "fc:input"
        names = ["fc:input", MODEL_OUTPUT, "body.1"]
        got = activations(script, X, names)
        want = activations(python, X, names)
        with torch.no_grad():
            by_hand, logits = python.body(X) * 2.0, python(X)
        np.testing.assert_allclose(want["fc:input"], by_hand.numpy(), rtol=1e-6)
        np.testing.assert_allclose(want[MODEL_OUTPUT], logits.numpy(), rtol=1e-6)
        for name in names:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match=r"Did you mean .*'body.1'"):
        activations(torch.jit.load(str(root / "a.ts")), X, ["body.l"])
    with pytest.raises(InputError, match="no nn.Linear"):
        default_feature_layer(nn.Sequential(nn.ReLU()))


def _value(printed: str, measure: str) -> float:
    for line in printed.splitlines():
        parts = line.split()
        if parts and parts[0] == measure:
            return float(parts[3])
    raise AssertionError(f"{measure} not in\n{printed}")


def test_compare_takes_torchscript_files_and_factories(workdir, monkeypatch, capsys):
    root, a, b, X = workdir
    monkeypatch.chdir(root)
    status = main(["compare", "--model", "a.ts", "--model", "b.ts", "--dataset", "x.npy",
                   "--measure", "linear_cka", "--measure", "jsd"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    with torch.no_grad():
        fa, fb = (m.body(X).numpy() * 2.0 for m in (a, b))
        pa, pb = a(X).numpy(), b(X).numpy()
    assert _value(printed, "linear_cka") == pytest.approx(rep.linear_cka(fa, fb), rel=1e-5)
    assert _value(printed, "jsd") == pytest.approx(fn.jsd(pa, pb, from_logits=True), rel=1e-4)
    assert "50 examples" in printed and "fc:input" in printed

    import loader_nets

    small = loader_nets.small().eval()
    status = main(["compare", "--model", "loader_nets:small", "--state-dict", "small.pt",
                   "--model", "a.ts", "--dataset", "x.npy", "--layer", "body.2",
                   "--measure", "linear_cka"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    with torch.no_grad():
        expected = rep.linear_cka(small.body[2](small.body[1](small.body[0](X))).numpy(),
                                  a.body[2](a.body[1](a.body[0](X))).numpy())
    assert _value(printed, "linear_cka") == pytest.approx(expected, rel=1e-5)


def test_compare_model_errors_are_one_line(workdir, monkeypatch, capsys):
    root, *_ = workdir
    monkeypatch.chdir(root)
    for argv, expected in (
        (["--model", "a.ts", "--model", "missing.ts"], "does not exist"),
        (["--model", "a.ts", "--model", "b.ts", "--layer", "bodyy"], "Did you mean"),
        (["--model", "small.pt", "--model", "a.ts"], "neither a simfunc model file nor"),
    ):
        status = main(["compare", *argv, "--dataset", "x.npy"])
        err = capsys.readouterr().err
        assert status == 2 and "Traceback" not in err
        assert err.startswith("simfunc compare: error:") and expected in err, err


def test_comparing_models_does_not_import_the_store():
    code = ("import sys, simfunc.compare, simfunc.models, simfunc.extract; "
            "sys.exit(int(any(m.startswith('simfunc.store') for m in sys.modules)))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    import ast
    from pathlib import Path

    import simfunc.cli.compare as cli_compare
    import simfunc.compare as compare

    for module in (compare, cli_compare):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not any((name or "").startswith("simfunc.store") for name in imported), module
