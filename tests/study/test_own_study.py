"""``simfunc study``: a study of the user's own models, end to end, at small size.

Five models (TorchScript scripted and traced, factories with state dicts) on an array of
inputs with labels; a sixth added later reuses the first five's features and pairs; every
broken configuration is one line and exit status 2 before any work starts.
"""

from __future__ import annotations

import csv
import html
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from simfunc import functional as fn
from simfunc import representational as rep
from simfunc.cli import main
from simfunc.errors import InputError
from simfunc.machine import this_machine

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NETS = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, hidden=12, classes=4, inputs=8):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(),
                                         nn.Linear(hidden, hidden), nn.Tanh())
            self.head = nn.Linear(hidden, classes)

        def forward(self, x):
            return self.head(self.encoder(x.flatten(1)))

    def make():
        return Net()

    def make_wide():
        return Net(hidden=20)

    def make_five_classes():
        return Net(classes=5)
    """
)

MEASURES = """
[measures]
representational = ["linear_cka", "cca", "procrustes"]
functional = ["jsd", "spearman", "disagreement"]
[intervals]
resamples = 30
[statistics]
permutations = 200
resamples = 200
"""


def _train(net, X, y, steps):
    optimiser = torch.optim.SGD(net.parameters(), lr=0.2)
    for _ in range(steps):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        optimiser.step()
    return net.eval()


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    (root / "ownzoo_nets.py").write_text(NETS)
    sys.path.insert(0, str(root))
    import ownzoo_nets

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 8)).astype(np.float32)
    y = ((X[:, 0] > 0).astype(np.int64) + 2 * (X[:, 1] > 0)).astype(np.int64)
    np.save(root / "inputs.npy", X)
    np.save(root / "labels.npy", y)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    nets = {}
    for seed in range(6):
        torch.manual_seed(seed)
        net = _train(ownzoo_nets.Net(hidden=12 if seed % 2 == 0 else 20), tX, ty, 15 * seed)
        nets[seed] = net
    torch.jit.save(torch.jit.script(nets[0]), str(root / "m0.ts"))
    torch.jit.save(torch.jit.script(nets[1]), str(root / "m1.ts"))
    torch.jit.save(torch.jit.trace(nets[2], tX[:4]), str(root / "m2.ts"))
    for seed in (3, 4, 5):
        torch.save(nets[seed].state_dict(), root / f"m{seed}.pt")
    torch.save(ownzoo_nets.Net(classes=5).state_dict(), root / "five.pt")
    yield root, nets, X, y
    sys.path.remove(str(root))


def five_models(layer4: str = "") -> str:
    return textwrap.dedent(f"""
        [models.scripted0]
        path = "m0.ts"
        group = "scripted"
        [models.scripted1]
        path = "m1.ts"
        group = "scripted"
        [models.traced2]
        path = "m2.ts"
        group = "scripted"
        [models.factory3]
        factory = "ownzoo_nets:make_wide"
        state_dict = "m3.pt"
        group = "factory"
        [models.factory4]
        factory = "ownzoo_nets:make"
        state_dict = "m4.pt"
        group = "factory"
        {layer4}
        """)


SIXTH = """
[models.factory5]
factory = "ownzoo_nets:make_wide"
state_dict = "m5.pt"
group = "factory"
"""


def write_config(root: Path, body: str, name: str = "zoo") -> Path:
    path = root / f"{name}.toml"
    path.write_text(f'name = "{name}"\n[data]\nsource = "inputs.npy"\nlabels = "labels.npy"\n'
                    + body + MEASURES)
    return path


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_five_models_in_one_command_then_a_sixth_reuses_their_features_and_pairs(
        zoo, tmp_path, capsys):
    root, nets, X, y = zoo
    config = write_config(root, five_models())
    out, cache = tmp_path / "out", tmp_path / "cache"
    status = main(["study", str(config), "--out", str(out), "--cache-dir", str(cache),
                   "--no-progress"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "15 jobs: 15 run, 0 cached" in printed
    for name in ("results.sqlite", "summary.json", "pairs.csv", "relation.csv", "report.html"):
        assert (out / name).is_file(), name

    # pairs.csv: 10 pairs x 6 measures, values equal to the measures on the models' own
    # penultimate features (the input of the last Linear) and logits, computed here by hand
    pairs = rows(out / "pairs.csv")
    assert list(pairs[0]) == ["model_a", "model_b", "measure", "kind", "value", "ci_low",
                              "ci_high", "resamples", "note"]
    assert len(pairs) == 10 * 6
    tX = torch.from_numpy(X)
    with torch.no_grad():
        feats = {f"scripted{i}" if i < 2 else ("traced2" if i == 2 else f"factory{i}"):
                 (nets[i].encoder(tX).numpy(), nets[i](tX).numpy()) for i in range(5)}
    checked = 0
    for row in pairs:
        (fa, pa), (fb, pb) = feats[row["model_a"]], feats[row["model_b"]]
        value = float(row["value"])
        if row["measure"] in rep.MEASURES:
            expected = rep.MEASURES[row["measure"]](fa.astype(np.float64), fb.astype(np.float64))
        else:
            expected = fn.OUTPUT_MEASURES[row["measure"]](pa, pb, from_logits=True)
        assert value == pytest.approx(expected, rel=1e-4, abs=1e-5), row
        assert row["resamples"] == "30" and row["ci_low"] and row["ci_high"], row
        checked += 1
    assert checked == 60

    summary = json.loads((out / "summary.json").read_text())
    assert summary["schema"] == 1 and len(summary["models"]) == 5
    accuracy = {m["name"]: m["accuracy"] for m in summary["models"]}
    assert accuracy["factory4"] == pytest.approx(
        float(np.mean(feats["factory4"][1].argmax(1) == y)))
    relation = rows(out / "relation.csv")
    assert len(relation) == 9
    cka_jsd = next(r for r in relation if (r["representational"], r["functional"])
                   == ("linear_cka", "jsd"))
    assert cka_jsd["n_pairs"] == "10" and cka_jsd["n_networks"] == "5"
    assert cka_jsd["strata"] == "group" and cka_jsd["p_value"] and cka_jsd["spearman"]
    report = html.unescape((out / "report.html").read_text())
    for text in ("The models", "linear_cka", "Leaderboard", "Settings that produced",
                 f"machine: {this_machine().describe()}"):
        assert text in report

    from simfunc.store import ResultsDB
    with ResultsDB(out / "results.sqlite") as db:
        assert len(db.models()) == 5 and len(db.pairs()) == 60

    # one more model: only its features and its five pairs are computed
    from simfunc.study import run_study_config

    bigger = write_config(root, five_models() + SIXTH, name="zoo6")
    result = run_study_config(bigger, out=tmp_path / "out6", cache_dir=cache)
    assert (result.report.run, result.report.cached) == (1 + 5, 15)
    assert result.report.status["study-features/factory5"] == "run"
    assert all(result.report.status[f"study-features/{m.name}"] == "cached"
               for m in result.summary.models[:5])
    assert len(rows(tmp_path / "out6" / "pairs.csv")) == 15 * 6


def test_intervals_resample_the_same_examples_for_both_models_and_note_what_is_too_costly():
    from simfunc.compare import compare_pair
    from simfunc.study.config import IntervalConfig
    from simfunc.study.intervals import pair_intervals

    rng = np.random.default_rng(1)
    Xa = rng.normal(size=(40, 6))
    Xb = Xa @ rng.normal(size=(6, 5)) + 0.5 * rng.normal(size=(40, 5))
    Pa, Pb = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    comparison = compare_pair({"features": Xa}, {"features": Xb}, Pa, Pb,
                              measures=["linear_cka", "rbf_cka"], output_measures=["jsd"])
    settings = IntervalConfig(resamples=25, max_seconds=1e9, confidence=0.9, seed=3)
    found = {i.measure: i for i in pair_intervals(Xa, Xb, Pa, Pb, comparison,
                                                  ["linear_cka", "rbf_cka"], ["jsd"], settings)}
    draws = np.random.default_rng(3).integers(0, 40, size=(25, 40))
    cka = [rep.linear_cka(Xa[d], Xb[d]) for d in draws]
    jsd = [fn.jsd(Pa[d], Pb[d], from_logits=True) for d in draws]
    assert (found["linear_cka"].low, found["linear_cka"].high) == pytest.approx(
        tuple(np.quantile(cka, [0.05, 0.95])), rel=1e-10)
    assert (found["jsd"].low, found["jsd"].high) == pytest.approx(
        tuple(np.quantile(jsd, [0.05, 0.95])), rel=1e-10)
    assert found["jsd"].resamples == 25 and found["jsd"].note == ""

    costly = pair_intervals(Xa, Xb, Pa, Pb, comparison, ["linear_cka", "rbf_cka"], ["jsd"],
                            IntervalConfig(resamples=25, max_seconds=0.0))
    by_name = {i.measure: i for i in costly}
    for name in ("linear_cka", "rbf_cka"):
        assert by_name[name].low is None and "too costly to resample" in by_name[name].note
    assert by_name["jsd"].low is not None  # output measures resample per example, no cost


def error_line(capsys, argv: list[str]) -> str:
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 2, captured
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simfunc study: error:"), captured.err
    return lines[0]


BROKEN = {
    "missing file": (five_models().replace('"m1.ts"', '"missing.ts"'),
                     ["[models.scripted1]", "path", "missing.ts", "no such file"]),
    "unimportable factory": (five_models().replace("ownzoo_nets:make_wide", "no_such_pkg:net"),
                             ["[models.factory3]", "factory", "cannot import", "no_such_pkg"]),
    "layer not in the model": (five_models('layer = "encoder.22"'),
                               ["[models.factory4]", "layer = 'encoder.22'", "Did you mean",
                                "encoder.2"]),
    "different output widths": (five_models().replace(
        'factory = "ownzoo_nets:make"\nstate_dict = "m4.pt"',
        'factory = "ownzoo_nets:make_five_classes"\nstate_dict = "five.pt"'),
        ["[models.factory4] output", "5 outputs", "[models.scripted0] has 4"]),
    "weights that do not fit": (five_models().replace('"m4.pt"', '"m3.pt"'),
                                ["[models.factory4]", "state_dict", "does not fit"]),
    "unknown measure": (five_models() + '\n[measures]\nrepresentational = ["linear_ckaa"]\n',
                        ["[measures]", "representational", "linear_ckaa", "choose from"]),
    "unknown key": (five_models().replace('group = "factory"', 'grup = "factory"', 1),
                    ["[models.factory3]", "'grup'"]),
    "both path and factory": (five_models().replace('path = "m0.ts"',
                                                    'path = "m0.ts"\nfactory = "a:b"'),
                              ["[models.scripted0]", "not both"]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_configuration_is_one_line_before_any_work(zoo, tmp_path, capsys, case):
    root, *_ = zoo
    body, expected = BROKEN[case]
    if case == "unknown measure":  # a second [measures] table would be invalid TOML
        config = root / "broken.toml"
        config.write_text('name = "b"\n[data]\nsource = "inputs.npy"\n' + body)
    else:
        config = write_config(root, body, name="broken")
    out, cache = tmp_path / "out", tmp_path / "cache"
    line = error_line(capsys, ["study", str(config), "--out", str(out), "--cache-dir",
                               str(cache)])
    for text in expected:
        assert text in line, line
    assert not out.exists() and not cache.exists()  # nothing started


def test_config_errors_from_python_raise_input_error(zoo):
    from simfunc.study import load_config, run_study_config

    root, *_ = zoo
    with pytest.raises(InputError, match=r"\[data\] is missing"):
        load_config({"models": {"a": {"path": "m0.ts"}, "b": {"path": "m1.ts"}}}, root)
    with pytest.raises(InputError, match="at least 2"):
        load_config({"data": {"source": "inputs.npy"}, "models": {"a": {"path": "m0.ts"}}},
                    root)
    with pytest.raises(InputError, match="labels applies to an array source"):
        load_config({"data": {"source": "digits", "labels": "labels.npy"},
                     "models": {"a": {"path": "m0.ts"}, "b": {"path": "m1.ts"}}}, root)
    with pytest.raises(InputError, match=r"\[data\] source = 'nothing.npy': no such file"):
        load_config({"data": {"source": "nothing.npy"},
                     "models": {"a": {"path": "m0.ts"}, "b": {"path": "m1.ts"}}}, root)
    with pytest.raises(InputError, match=r"\[models.b\] state_dict = 'gone.pt': no such file"):
        load_config({"data": {"source": "inputs.npy"},
                     "models": {"a": {"path": "m0.ts"},
                                "b": {"factory": "ownzoo_nets:make", "state_dict": "gone.pt"}}},
                    root)
    with pytest.raises(InputError, match="no such file"):
        run_study_config(root / "nothing.toml")


CIFAR = Path("/work/shared/data/cifar10")
CONV = textwrap.dedent(
    """
    import torch
    from torch import nn

    def conv():
        torch.manual_seed(3)
        return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                             nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 10))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not (CIFAR / "test").is_dir(), reason="needs ../shared/data/cifar10")
def test_an_image_folder_with_a_simfunc_model_torchscript_and_a_factory(tmp_path, monkeypatch,
                                                                         capsys):
    from simfunc.train.supervised import TrainConfig, train

    (tmp_path / "ownzoo_conv.py").write_text(CONV)
    monkeypatch.syspath_prepend(str(tmp_path))
    import ownzoo_conv

    torch.save(ownzoo_conv.conv().state_dict(), tmp_path / "conv.pt")
    torch.manual_seed(4)
    other = ownzoo_conv.conv().eval()
    torch.jit.save(torch.jit.trace(other, torch.zeros(2, 3, 32, 32)), str(tmp_path / "c.ts"))
    train(TrainConfig(arch="mlp", width=0.25, epochs=1, batch_size=128), tmp_path / "digits",
          progress=False)
    config = tmp_path / "folder.toml"
    config.write_text(textwrap.dedent(f"""
        name = "folder"
        [data]
        source = "{CIFAR}"
        split = "test"
        subset = 40
        [models.factory]
        factory = "ownzoo_conv:conv"
        state_dict = "conv.pt"
        [models.traced]
        path = "c.ts"
        [models.digits]
        path = "digits"
        [measures]
        representational = ["linear_cka"]
        functional = ["jsd"]
        [intervals]
        resamples = 10
        [statistics]
        permutations = 50
        resamples = 50
        """))
    status = main(["study", str(config), "--out", str(tmp_path / "out"), "--cache-dir",
                   str(tmp_path / "cache"), "--jobs", "2", "--no-progress"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    models = {m["name"]: m for m in summary["models"]}
    assert summary["n_examples"] == 40
    assert models["factory"]["layer"] == "6:input" and models["factory"]["accuracy"] is not None
    assert models["digits"]["kind"] == "simfunc" and models["digits"]["accuracy"] is None
    assert "other classes" in models["digits"]["accuracy_note"]
    # the factory and the traced copy of the same architecture, by hand on the same images
    from simfunc.data import load

    images = load(str(CIFAR), "test", subset=40).normalized()
    with torch.no_grad():
        fa = ownzoo_conv.conv().eval()[:5](images).numpy()
        fb = other[:5](images).numpy()
    pair = next(p for p in summary["pairs"] if (p["model_a"], p["model_b"], p["measure"])
                == ("factory", "traced", "linear_cka"))
    assert pair["value"] == pytest.approx(rep.linear_cka(fa, fb), rel=1e-4)
    relation = rows(tmp_path / "out" / "relation.csv")
    assert len(relation) == 1 and "at least 4" in relation[0]["note"]  # 3 models: too few


@pytest.mark.slow
def test_the_same_study_runs_as_ray_tasks_and_matches_the_local_run(zoo, tmp_path):
    pytest.importorskip("ray")
    import shutil
    import tempfile

    from simfunc.runner import RayExecutor
    from simfunc.study import run_study_config

    root, *_ = zoo
    config = write_config(root, five_models(), name="zoo-ray")
    local = run_study_config(config, out=tmp_path / "local", cache_dir=tmp_path / "cache-a")
    temp_dir = tempfile.mkdtemp(prefix="sfray-", dir="/tmp")  # Ray's socket paths are short
    try:
        with RayExecutor(num_cpus=2, temp_dir=temp_dir) as executor:
            remote = run_study_config(config, out=tmp_path / "ray",
                                      cache_dir=tmp_path / "cache-b", executor=executor)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert (remote.report.run, remote.report.cached) == (15, 0)
    assert [(p.model_a, p.model_b, p.measure, p.value, p.ci_low, p.ci_high)
            for p in remote.summary.pairs] == [
        (p.model_a, p.model_b, p.measure, p.value, p.ci_low, p.ci_high)
        for p in local.summary.pairs]
