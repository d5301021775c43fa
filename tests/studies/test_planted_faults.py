"""Tests that catch wrong science: faults planted in a small real run must be caught.

Each fault is planted by a monkeypatch into an architectures run at a small size (two
architectures, two seeds, two epochs: four trained networks, six pairs; the jobs run in this
process so the patch reaches them) and must be caught by the check the study's own tests use:
the independent recomputation of a pair (``tests/studies/study_checks.py``) or the scorecard's verdict.
The finding's bounds alone cannot catch the first two: the relation computed on the logits
(ρ −0.84) or on the training images (ρ −0.91) lies inside them.

    fault                                        caught by
    features taken from the logits               recomputation (CKA differs)
    the training split compared, not the test    recomputation (CKA and JSD differ)
    one model's outputs shuffled across images   recomputation (JSD differs)
    pair-level instead of network-level          the scorecard: no verdict from a pair-level
      inference                                  interval (inconclusive, says why)
    the output named as the compared layer       a clear InputError before any job runs

(Same-run pairs in the MiniGrid headline and a Table 4.1 cell read from the wrong d_ratio are
planted in those studies' tests.)
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from simfunc import InputError
from simfunc.scorecard import Verdict
from simfunc.studies import classifier_jobs, common
from simfunc.studies.framework import rebuild_study, run_study

from study_checks import mismatches, recomputed_pair, stored_pair

pytestmark = pytest.mark.slow

SMALL = {"archs": ("mlp", "cnn"), "seeds": (0, 1), "untrained": False,
         "training.epochs": 2, "n_permutations": 200, "n_resamples": 200}
PAIR = ("mlp-s0", "cnn-s1")


def _run(root, name):
    return run_study("architectures", "quick", out=root / name / "runs",
                     cache_dir=root / name / "cache", overrides=SMALL, jobs=1, progress=False)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    return root, _run(root, "clean")


def _faulty_run(clean, name, monkeypatch, patch):
    """The small run again with ``patch`` applied, reusing the clean run's trained networks
    (the faults are downstream of training)."""
    root, _ = clean
    shutil.copytree(root / "clean" / "cache" / "train", root / name / "cache" / "train")
    with monkeypatch.context() as m:
        patch(m)
        result = _run(root, name)
    return result, root / name / "cache"


def test_the_clean_run_matches_its_recomputation(clean):
    root, result = clean
    recomputed = recomputed_pair(result.run_dir, root / "clean" / "cache", PAIR)
    assert mismatches(stored_pair(result.run_dir, PAIR), recomputed) == []


def _extract_with(transform):
    original = classifier_jobs.extract_features

    def extract(ctx):
        original(ctx)
        path = ctx.output_dir / classifier_jobs.FEATURES_FILE
        with np.load(path) as archive:
            arrays = {name: archive[name] for name in archive.files}
        transform(ctx, arrays)
        np.savez(path, **arrays)
    return extract


def test_features_taken_from_the_logits_are_caught(clean, monkeypatch):
    def logits_as_features(ctx, arrays):
        arrays["features"] = arrays["logits"].copy()
    result, cache = _faulty_run(clean, "logits", monkeypatch, lambda m: m.setattr(
        classifier_jobs, "extract_features", _extract_with(logits_as_features)))
    found = mismatches(stored_pair(result.run_dir, PAIR), recomputed_pair(result.run_dir, cache, PAIR))
    assert [m.split(":")[0] for m in found] == ["linear_cka"]


def test_the_training_split_compared_instead_of_the_test_split_is_caught(clean, monkeypatch):
    original = classifier_jobs.ImageSet.load_for

    def load_train_split(self, model):
        return original(dataclasses.replace(self, split="train"), model)
    result, cache = _faulty_run(clean, "train-split", monkeypatch, lambda m: m.setattr(
        classifier_jobs.ImageSet, "load_for", load_train_split))
    found = mismatches(stored_pair(result.run_dir, PAIR), recomputed_pair(result.run_dir, cache, PAIR))
    assert {m.split(":")[0] for m in found} >= {"linear_cka", "jsd"}


def test_one_models_outputs_shuffled_across_images_are_caught(clean, monkeypatch):
    def shuffle_one(ctx, arrays):
        if ctx.job.id.endswith("mlp-s0"):
            arrays["logits"] = arrays["logits"][np.random.default_rng(0).permutation(
                len(arrays["logits"]))]
    result, cache = _faulty_run(clean, "shuffled", monkeypatch, lambda m: m.setattr(
        classifier_jobs, "extract_features", _extract_with(shuffle_one)))
    found = mismatches(stored_pair(result.run_dir, PAIR), recomputed_pair(result.run_dir, cache, PAIR))
    assert {m.split(":")[0] for m in found} == {"jsd", "spearman"}


def test_pair_level_inference_gives_no_verdict(clean, monkeypatch):
    _, result = clean
    verdicts = {row.id: row for row in result.scorecard.rows}
    assert verdicts["architectures.cka_jsd"].ci is not None  # network-level, clean

    original = common.relation_summary

    def pair_level(*args, **kwargs):
        kwargs.pop("networks", None)
        kwargs.pop("design", None)
        return original(*args, **kwargs)
    monkeypatch.setattr(common, "relation_summary", pair_level)
    rebuilt = {row.id: row for row in rebuild_study(result.run_dir).scorecard.rows}
    for claim in ("architectures.cka_jsd", "architectures.cka_rank"):
        assert rebuilt[claim].verdict is Verdict.INCONCLUSIVE and rebuilt[claim].ci is None
        assert "pair-level interval" in rebuilt[claim].why and "not used" in rebuilt[claim].why


@pytest.mark.parametrize("layer, words", [("output", "output measures"),
                                          ("fc9", "has no layer 'fc9'")])
def test_a_layer_the_networks_lack_is_refused_before_any_job(tmp_path, layer, words):
    with pytest.raises(InputError, match=words):
        run_study("architectures", "quick", out=tmp_path / "runs", cache_dir=tmp_path / "cache",
                  overrides={**SMALL, "layer": layer}, jobs=1, progress=False)
    assert not (tmp_path / "cache").exists()
