"""The existence study (thesis ch. 4): the masks, the composed networks, the heads, end to end."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
import torch

from simfunc import InputError, functional, representational
from simfunc.data import load
from simfunc.extract import activations
from simfunc.studies.existence_jobs import (
    BASE_LAYER,
    MASK_LAYER,
    MaskedHeadNet,
    binary_labels,
    feature_masks,
    fit_linear_head,
    kept_ranges,
    load_head_activations,
    load_masked_net,
)
from simfunc.reproduce import rebuild
from simfunc.studies.framework import run_study


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits_base(tmp_path_factory):
    """A small CNN pretrained for two epochs on digits 0-4 (as the quick profile's base), and
    the digits train/test images."""
    from simfunc.train.supervised import TrainConfig, load_model, train

    out = tmp_path_factory.mktemp("base")
    train(TrainConfig(arch="cnn", width=0.5, classes=(0, 1, 2, 3, 4), epochs=2, batch_size=64),
          out, progress=False)
    base = load_model(out)
    train = load("digits", "train", image_size=8, channels=1)
    test = load("digits", "test", image_size=8, channels=1)
    return base, train, test


# ------------------------------------------------------------------------------ d_ratio


@pytest.mark.parametrize("dim, d_ratio, first, last", [
    (10, 0.0, (0, 10), (0, 10)),     # nothing masked: both see everything
    (10, 0.25, (0, 7), (3, 10)),     # 2.5 rounds half up to 3 masked
    (10, 0.5, (0, 5), (5, 10)),      # disjoint halves
    (10, 0.9, (0, 1), (9, 10)),      # each keeps its own 10 %
    (512, 0.9, (0, 51), (461, 512)),
])
def test_kept_ranges_follow_the_documented_definition(dim, d_ratio, first, last):
    assert kept_ranges(dim, d_ratio) == (first, last)
    masks = feature_masks(dim, d_ratio)
    assert masks["first"].sum() == first[1] - first[0]
    assert masks["first"][: first[1]].all() and masks["last"][last[0]:].all()


def test_kept_sets_are_disjoint_from_half_on():
    for d_ratio in (0.5, 0.8, 0.9):
        masks = feature_masks(128, d_ratio)
        assert not (masks["first"] & masks["last"]).any()
    assert (feature_masks(128, 0.25)["first"] & feature_masks(128, 0.25)["last"]).sum() == 64


@pytest.mark.parametrize("d_ratio", [1.0, -0.1, float("nan"), True])
def test_bad_d_ratio_is_refused(d_ratio):
    with pytest.raises(InputError, match="d_ratio"):
        kept_ranges(10, d_ratio)


def test_a_d_ratio_that_masks_everything_is_refused():
    with pytest.raises(InputError, match="masks all"):
        kept_ranges(1, 0.9)


# ------------------------------------------------------------------------------ the network


def test_base_features_are_identical_and_their_cka_is_exactly_one(digits_base):
    base, _, test = digits_base
    dim = base.feature_dim
    masks = feature_masks(dim, 0.5)
    net1, net2 = MaskedHeadNet(base, masks["first"]), MaskedHeadNet(base, masks["last"])
    torch.nn.init.normal_(net2.logits.weight)  # different heads
    a = activations(net1, test, [BASE_LAYER, MASK_LAYER, "logits"])
    b = activations(net2, test, [BASE_LAYER, MASK_LAYER, "logits"])
    assert np.array_equal(a[BASE_LAYER], b[BASE_LAYER])  # same frozen base, same inputs
    assert representational.linear_cka(a[BASE_LAYER], b[BASE_LAYER]) == pytest.approx(1.0,
                                                                                    abs=1e-12)
    assert representational.cca(a[BASE_LAYER], b[BASE_LAYER]) == pytest.approx(1.0, abs=1e-9)
    # the mask zeroes exactly the masked dimensions and passes the others through
    assert np.all(a[MASK_LAYER][:, dim // 2:] == 0)
    assert np.array_equal(a[MASK_LAYER][:, : dim // 2], a[BASE_LAYER][:, : dim // 2])
    assert np.all(b[MASK_LAYER][:, : dim // 2] == 0)


def test_the_base_stays_frozen_and_in_eval_mode(digits_base):
    base, train, _ = digits_base
    net = MaskedHeadNet(base, np.ones(base.feature_dim, dtype=bool))
    net.train()
    assert not net.base.training and net.logits.training
    assert all(not p.requires_grad for p in net.base.parameters())
    before = activations(net, train.normalized(slice(0, 64)), [BASE_LAYER])[BASE_LAYER]
    net.train()
    net(train.normalized(slice(0, 64)))  # a forward pass in train mode moves no BN statistics
    after = activations(net, train.normalized(slice(0, 64)), [BASE_LAYER])[BASE_LAYER]
    assert np.array_equal(before, after)


def test_binary_labels():
    assert binary_labels([0, 1, 2, 3], (1, 3)).tolist() == [0, 1, 0, 1]
    with pytest.raises(InputError, match="empty"):
        binary_labels([0, 2, 4], (1, 3))


# ------------------------------------------------------------------------------ the heads


def test_head_matches_an_independent_logistic_regression(digits_base):
    """Two-class softmax with L2 ``wd/2 (‖w0‖² + ‖w1‖²)`` is binary logistic regression on
    w = w1 − w0 with penalty ``wd/4 ‖w‖²``, i.e. scikit-learn's C = 2 / (n · wd)."""
    from sklearn.linear_model import LogisticRegression

    base, train, _ = digits_base
    features = activations(base, train, ["features"])["features"].astype(np.float64)
    labels = binary_labels(train.labels.numpy(), (1, 3, 5, 7, 9))
    keep = feature_masks(features.shape[1], 0.25)["last"]
    weight_decay = 1e-2
    head = fit_linear_head(features, labels, keep, weight_decay=weight_decay)
    assert np.all(head["weight"].numpy()[:, ~keep] == 0)  # masked weights never move
    n = len(labels)
    reference = LogisticRegression(C=2.0 / (n * weight_decay), tol=1e-12, max_iter=10_000)
    reference.fit(features[:, keep], labels)
    w = (head["weight"][1] - head["weight"][0]).double().numpy()[keep]
    b = float(head["bias"][1] - head["bias"][0])
    ours = features[:, keep] @ w + b
    theirs = reference.decision_function(features[:, keep])
    assert np.max(np.abs(ours - theirs)) < 1e-3 * (1 + np.max(np.abs(theirs)))


def test_flipped_labels_drive_jsd_up(digits_base):
    """Net1 (true labels) against Net2 (flipped labels) versus Net1 against a net trained on the
    same labels through the same mask as Net2: the flipped pair's outputs are far apart."""
    base, train, test = digits_base
    features = activations(base, train, ["features"])["features"]
    labels = binary_labels(train.labels.numpy(), (1, 3, 5, 7, 9))
    masks = feature_masks(features.shape[1], 0.5)
    nets = {}
    for name, keep, target in (("net1", masks["first"], labels),
                               ("net2", masks["last"], 1 - labels),
                               ("control", masks["last"], labels)):
        head = fit_linear_head(features, target, keep, weight_decay=1e-3)
        net = MaskedHeadNet(base, keep)
        with torch.no_grad():
            net.logits.weight.copy_(head["weight"])
            net.logits.bias.copy_(head["bias"])
        nets[name] = activations(net, test, [MASK_LAYER, "logits"])
    flipped = functional.jsd(nets["net1"]["logits"], nets["net2"]["logits"], from_logits=True)
    same = functional.jsd(nets["net1"]["logits"], nets["control"]["logits"], from_logits=True)
    assert flipped > 0.3 and flipped > 5 * same
    # ... while the masked representations of Net2 and the control are the same
    assert np.array_equal(nets["net2"][MASK_LAYER], nets["control"][MASK_LAYER])
    rank = functional.spearman(nets["net1"]["logits"], nets["net2"]["logits"], from_logits=True)
    assert rank < -0.5


# ------------------------------------------------------------------------------ end to end

TINY = {"base_epochs": 1, "d_ratios": "0,0.5,0.9", "task_test_subset": 100,
        "task_train_subset": 400, "base_width": 0.5}


@pytest.mark.slow
def test_existence_end_to_end(tmp_path):
    result = run_study("existence", "quick", out=tmp_path / "runs", cache_dir=tmp_path / "cache",
                       overrides=TINY, progress=False)
    run_dir = result.run_dir
    with sqlite3.connect(run_dir / "results.sqlite") as connection:
        rows = connection.execute(
            "SELECT model_a, model_b, layer, measure, value FROM pairs").fetchall()
        kinds = dict(connection.execute("SELECT model_id, kind FROM models").fetchall())
    assert kinds["base"] == "base"
    assert {k for k, v in kinds.items() if v == "masked-head"} == {
        f"{role}-d{r}" for role in ("net1", "net2", "control") for r in ("0", "0.5", "0.9")}
    pairs = {(a, b) for a, b, *_ in rows}
    assert pairs == {(f"net1-d{r}", f"{other}-d{r}") for r in ("0", "0.5", "0.9")
                     for other in ("net2", "control")}
    values = {(a, b, layer, m): v for a, b, layer, m, v in rows}
    for r in ("0", "0.5", "0.9"):
        assert values[(f"net1-d{r}", f"net2-d{r}", "base", "linear_cka")] == pytest.approx(
            1.0, abs=1e-12)
        for measure in ("jsd", "spearman", "disagreement", "kl"):
            assert (f"net1-d{r}", f"net2-d{r}", "output", measure) in values
        assert {"linear_cka", "cca", "procrustes", "rsa"} <= {
            m for a, b, layer, m in values if layer == "masked" and a == f"net1-d{r}"}
    # at d_ratio 0 the masked features are the base features
    assert values[("net1-d0", "net2-d0", "masked", "linear_cka")] == pytest.approx(1.0, abs=1e-12)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [row["d_ratio"] for row in summary["rows"]] == [0.0, 0.5, 0.9]
    first = summary["rows"][0]
    assert first["jsd"] > summary["controls"][0]["jsd"]
    assert first["rank"] < 0 < summary["controls"][0]["rank"]
    assert (run_dir / "figures" / "existence.png").is_file()
    # the composed network rebuilt from the cache gives the outputs that were compared
    with sqlite3.connect(run_dir / "results.sqlite") as connection:
        artifacts = dict(connection.execute("SELECT model_id, artifact FROM models").fetchall())
    cache = tmp_path / "cache"
    net2 = load_masked_net(cache / artifacts["base"], cache / artifacts["net2-d0.5"], "net2")
    stored = load_head_activations(cache / artifacts["net2-d0.5"])
    test = load("digits", "test", image_size=8, channels=1, subset=100)
    again = activations(net2, test, ["logits"])["logits"]
    assert np.array_equal(again, stored["net2/logits"])
    report = (run_dir / "report.html").read_text()
    assert "Table 4.1" in report and "0.59" in report
    before = report
    (run_dir / "report.html").unlink()
    rebuild(run_dir)
    assert (run_dir / "report.html").read_text() == before
