"""Masked-head networks (``simfunc.nets.masked``) and the convex head fit (``simfunc.train.probes``):
the machinery of the existence study, on a small CNN pretrained on digits 0-4."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simfunc import InputError, functional, representational
from simfunc.data import load
from simfunc.extract import activations
from simfunc.nets.masked import BASE_LAYER, LOGITS_LAYER, MASK_LAYER, MaskedHeadNet
from simfunc.studies.existence.jobs import binary_labels, feature_masks
from simfunc.train.probes import fit_linear_head

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits_base(tmp_path_factory):
    """A small CNN pretrained for two epochs on digits 0-4 (as the quick profile's base), and
    the digits train/test images."""
    from simfunc.train.supervised import TrainConfig, load_model, train

    out = tmp_path_factory.mktemp("base")
    train(TrainConfig(arch="cnn", width=0.5, classes=(0, 1, 2, 3, 4), epochs=2, batch_size=64),
          out, progress=False)
    return (load_model(out), load("digits", "train", image_size=8, channels=1),
            load("digits", "test", image_size=8, channels=1))


def test_base_features_are_identical_and_their_cka_is_exactly_one(digits_base):
    base, _, test = digits_base
    dim = base.feature_dim
    masks = feature_masks(dim, 0.5)
    net1, net2 = MaskedHeadNet(base, masks["first"]), MaskedHeadNet(base, masks["last"])
    torch.nn.init.normal_(net2.logits.weight)  # different heads
    a = activations(net1, test, [BASE_LAYER, MASK_LAYER, LOGITS_LAYER])
    b = activations(net2, test, [BASE_LAYER, MASK_LAYER, LOGITS_LAYER])
    assert np.array_equal(a[BASE_LAYER], b[BASE_LAYER])  # same frozen base, same inputs
    assert representational.linear_cka(a[BASE_LAYER], b[BASE_LAYER]) == pytest.approx(
        1.0, abs=1e-12)
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


def test_bad_masks_and_heads_are_refused(digits_base):
    base, _, _ = digits_base
    with pytest.raises(InputError, match="at least one True"):
        MaskedHeadNet(base, np.zeros(base.feature_dim, dtype=bool))
    with pytest.raises(InputError, match="the base has"):
        MaskedHeadNet(base, np.ones(base.feature_dim + 1, dtype=bool))
    with pytest.raises(InputError, match="simfunc classifier"):
        MaskedHeadNet(torch.nn.Linear(3, 3), np.ones(3, dtype=bool))
    net = MaskedHeadNet(base, np.ones(base.feature_dim, dtype=bool))
    with pytest.raises(InputError, match="head must be"):
        net.set_head(torch.zeros(3, base.feature_dim), torch.zeros(3))


def test_binary_labels():
    assert binary_labels([0, 1, 2, 3], (1, 3)).tolist() == [0, 1, 0, 1]
    with pytest.raises(InputError, match="empty"):
        binary_labels([0, 2, 4], (1, 3))


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


def test_head_fit_refuses_bad_input():
    x = np.random.default_rng(0).standard_normal((20, 4))
    y = np.arange(20) % 2
    keep = np.ones(4, dtype=bool)
    with pytest.raises(InputError, match="do not fit"):
        fit_linear_head(x, y[:-1], keep, weight_decay=1e-3)
    with pytest.raises(InputError, match="NaN"):
        fit_linear_head(np.where(x > 1, np.nan, x), y, keep, weight_decay=1e-3)
    with pytest.raises(InputError, match="labels must lie"):
        fit_linear_head(x, y + 1, keep, weight_decay=1e-3)
    with pytest.raises(InputError, match="weight_decay"):
        fit_linear_head(x, y, keep, weight_decay=0.0)


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
        net = MaskedHeadNet(base, keep).set_head(head["weight"], head["bias"])
        nets[name] = activations(net, test, [MASK_LAYER, LOGITS_LAYER])
    flipped = functional.jsd(nets["net1"]["logits"], nets["net2"]["logits"], from_logits=True)
    same = functional.jsd(nets["net1"]["logits"], nets["control"]["logits"], from_logits=True)
    assert flipped > 0.3 and flipped > 5 * same
    # ... while the masked representations of Net2 and the control are the same
    assert np.array_equal(nets["net2"][MASK_LAYER], nets["control"][MASK_LAYER])
    rank = functional.spearman(nets["net1"]["logits"], nets["net2"]["logits"], from_logits=True)
    assert rank < -0.5
