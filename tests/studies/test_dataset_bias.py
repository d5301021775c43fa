"""The dataset-bias study (thesis §3.1) on its quick profile: the thesis's finding, asserted.

The quick profile is seeded, so the run is deterministic; the bounds below come from running it
with five seed sets (``simfunc run dataset-bias --set seeds=A,B --set untrained_seeds=C,D``,
everything else the quick profile's: a small CNN, 8 epochs on digits 0–4 (lo) and 5–9 (hi) at
16×16, two untrained networks, tested on lo, hi and photo patches; the SVM on 2,048-d
last-conv features, 90 held-out rows per set):

    seeds (A, B / untrained)  SVM accuracy  mistakes  keep the network  vectors to another network
    1,2 / 3,4 (quick)             0.951         80          0.975          2 of 1,620 (0.0012)
    5,6 / 7,8                     0.953         76          0.987          1 (0.0006)
    9,10 / 11,12                  0.951         80          0.988          1 (0.0006)
    13,14 / 15,16                 0.954         75          1.000          0 (0)
    17,18 / 19,20                 0.954         74          0.946          4 (0.0025)
    spread                     0.951–0.954    74–80     0.946–1.000      0–4 (0–0.0025)

In every seed set almost all of the SVM's mistakes keep the network (it mistakes the test set,
not the network), as in the thesis (chance is 1/18 = 0.056). The bounds below (share ≥ 0.85,
at most 1% of the vectors to another network, accuracy above ten times chance) leave room
beyond the spread.

The finding alone does not notice a study that computes it on the wrong features, so the SVM
is also recomputed here from scratch — the six networks loaded from the cache, run on the
three test sets, their last-conv maps flattened, split, standardised and classified — and its
confusion matrix must equal the stored one; and the untrained networks must be exactly the
initial weights of their own seeds, unrelated to the trained ones (the image studies' one rule).
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from simfunc.scorecard import Verdict
from simfunc.studies.dataset_bias import prose
from simfunc.studies.framework import StudyResult, run_study

from study_checks import summary_reads_back

pytestmark = pytest.mark.slow

SAME_NETWORK_SHARE = 0.85  # smallest share of mistakes that keep the network
OTHER_NETWORK_RATE = 0.01  # largest share of feature vectors given to another network
TEST_SETS = {"lo": ("digits", [0, 1, 2, 3, 4]), "hi": ("digits", [5, 6, 7, 8, 9]),
             "photo": ("photo-patches", None)}


@pytest.fixture(scope="module")
def root(study_root):
    return study_root  # cache/ is the session's shared study cache (conftest.py)


@pytest.fixture(scope="module")
def quick(root) -> StudyResult:
    return run_study("dataset-bias", "quick", out=root / "runs", cache_dir=root / "cache",
                     jobs=1, progress=False)


def test_the_svm_confuses_test_sets_not_networks(quick):
    result = quick.result
    assert summary_reads_back(quick)
    assert result.features == 128 * 4 * 4 and result.n_test_per_set == 90
    assert result.confusions.same_network >= SAME_NETWORK_SHARE
    assert result.other_network_rate <= OTHER_NETWORK_RATE
    low, high = result.same_network_share_ci
    assert low <= result.confusions.same_network <= high
    assert result.svm_accuracy > 10 * result.chance
    headline = prose.thesis_rows(result)[0]
    assert headline.id == "dataset_bias.mistakes_keep_network"
    assert headline.judgement.verdict is Verdict.REPRODUCED and headline.value == pytest.approx(
        result.confusions.same_network)
    verdicts = {row.id: row.verdict for row in quick.scorecard.rows}
    assert verdicts == {"dataset_bias.mistakes_keep_network": Verdict.REPRODUCED,
                        "dataset_bias.never_other_network": Verdict.REPRODUCED}
    report = (quick.run_dir / "report.html").read_text(encoding="utf-8")
    assert headline.quantity in report and "contradicted:" not in report


def _stored_svm(run_dir):
    with sqlite3.connect(run_dir / "results.sqlite") as connection:
        (extra,) = connection.execute(
            "SELECT extra FROM scalars WHERE name = 'svm_accuracy'").fetchone()
        models = {m: (artifact, trained, seed) for m, artifact, trained, seed in
                  connection.execute("SELECT model_id, artifact, trained, seed FROM models")}
    return json.loads(extra), models


def test_the_svm_recomputed_independently_matches_what_the_study_stored(quick, root):
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from simfunc.data import load
    from simfunc.extract import activations
    from simfunc.train.supervised import load_model

    svm, models = _stored_svm(quick.run_dir)
    networks = {name: load_model(root / "cache" / models[name][0]) for name in set(svm["networks"])}
    sets = []
    for test_set, network in zip(svm["test_sets"], svm["networks"]):
        dataset, classes = TEST_SETS[test_set]
        images = load(dataset, "test", image_size=16, channels=3, subset=180, classes=classes)
        maps = activations(networks[network], images, ["last_conv"], flatten=False)["last_conv"]
        sets.append(maps.reshape(len(maps), -1).astype(np.float64))
    n = min(len(s) for s in sets)
    order = np.random.default_rng(0).permutation(n)  # the documented held-out rows
    held_out, kept = np.sort(order[:round(0.5 * n)]), np.sort(order[round(0.5 * n):])
    scaler = StandardScaler().fit(np.concatenate([s[kept] for s in sets]))
    classifier = OneVsRestClassifier(SVC(kernel="linear", C=0.1)).fit(
        scaler.transform(np.concatenate([s[kept] for s in sets])),
        np.repeat(np.arange(len(sets)), len(kept)))
    predicted = classifier.predict(scaler.transform(np.concatenate([s[held_out] for s in sets])))
    counts = np.zeros((len(sets), len(sets)), dtype=int)
    np.add.at(counts, (np.repeat(np.arange(len(sets)), len(held_out)), predicted), 1)
    assert counts.tolist() == svm["counts"]


def test_untrained_networks_are_the_initial_weights_of_seeds_of_their_own(quick, root):
    from simfunc.nets import build
    from simfunc.train.supervised import load_model

    _, models = _stored_svm(quick.run_dir)
    trained_seeds = {seed for _, trained, seed in models.values() if trained}
    untrained = {m: seed for m, (_, trained, seed) in models.items() if not trained}
    assert untrained == {"untrained_s3": 3, "untrained_s4": 4}
    assert trained_seeds == {1, 2}  # disjoint: unrelated to the trained networks
    for model_id, seed in untrained.items():
        network = load_model(root / "cache" / models[model_id][0])
        fresh = build("cnn", network.num_classes, width=1.0, in_channels=3, input_size=16,
                      seed=seed)
        for name, tensor in fresh.state_dict().items():
            assert np.array_equal(tensor.numpy(), network.state_dict()[name].numpy()), name


def test_the_paper_profile_reads_resnet110s_4096_dimensional_last_conv_features():
    import torch

    from simfunc.nets import build
    from simfunc.studies.dataset_bias import STUDY

    plan = STUDY.plan(STUDY.settings("paper"))
    trains = [job for job in plan if job.id.startswith("train/")]
    extracts = [job for job in plan if job.id.startswith("extract/")]
    assert len(trains) == 6 and {job.config["train"]["arch"] for job in trains} == {"resnet110"}
    assert {tuple(job.config["layers"]) for job in extracts} == {("last_conv",)}
    network = build("resnet110", 100, width=1.0, in_channels=3, input_size=32)
    seen = {}
    network.last_conv.register_forward_hook(lambda module, args, out: seen.update(map=out))
    network.eval()
    with torch.no_grad():
        network(torch.zeros(2, 3, 32, 32))
    assert tuple(seen["map"].shape[1:]) == (64, 8, 8)
