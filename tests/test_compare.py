"""The one compare path: what it measures, and its one policy for what cannot be measured."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from simfunc import functional as fn
from simfunc import representational as rep
from simfunc.compare import Comparison, Note, compare_pair, pair_context, record_comparison
from simfunc.errors import InputError
from simfunc.measure import CLASS_PERMUTATION, Measure
from simfunc.store import OUTPUT_LAYER, ResultsDB


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 12))
    Y = np.tanh(X @ rng.normal(size=(12, 9)))
    return X, Y, rng.normal(size=(60, 5)), rng.normal(size=(60, 5))


def test_every_measure_equals_the_registered_function_called_alone(models):
    X, Y, P, Q = models
    compared = compare_pair({"features": X, "early": X[:, :6]}, {"features": Y, "early": Y[:, :4]},
                            P, Q)
    for name, measure in rep.MEASURES.items():
        assert compared.value("features", name) == pytest.approx(measure(X, Y), rel=1e-9, abs=1e-12)
        assert compared.value("early", name) == pytest.approx(measure(X[:, :6], Y[:, :4]),
                                                              rel=1e-9, abs=1e-12)
    for name, measure in fn.OUTPUT_MEASURES.items():
        assert compared.value(OUTPUT_LAYER, name) == measure(P, Q, from_logits=True)
    assert compared.notes == ()
    layers = [item.layer for item in compared.values]
    assert layers == sorted(layers, key=["features", "early", OUTPUT_LAYER].index)


def test_probabilities_and_a_chosen_subset_of_measures(models):
    X, Y, P, Q = models
    probs = np.exp(P) / np.exp(P).sum(axis=1, keepdims=True)
    compared = compare_pair({"f": X}, {"f": Y}, probs, probs, measures=["linear_cka"],
                            output_measures=["jsd"], from_logits=False)
    assert [(v.layer, v.measure) for v in compared.values] == [("f", "linear_cka"),
                                                               (OUTPUT_LAYER, "jsd")]
    assert compared.value(OUTPUT_LAYER, "jsd") == pytest.approx(0.0, abs=1e-15)
    only_outputs = compare_pair({}, {}, P, Q, output_measures=["disagreement"])
    assert [v.measure for v in only_outputs.values] == ["disagreement"]


def test_a_measure_undefined_on_the_data_is_left_out_with_a_note(models):
    X, Y, P, Q = models
    few = compare_pair({"f": X[:3]}, {"f": Y[:3]}, measures=["linear_cka", "debiased_cka"])
    assert few.value("f", "linear_cka") is not None and few.value("f", "debiased_cka") is None
    (note,) = few.notes
    assert (note.layer, note.measure) == ("f", "debiased_cka") and "4" in note.reason


def test_features_no_measure_can_read_leave_every_measure_out_one_note_each(models):
    X, Y, P, Q = models
    constant = np.ones_like(X)
    compared = compare_pair({"f": constant}, {"f": Y}, P, Q)
    assert not [v for v in compared.values if v.layer == "f"]
    assert [n.measure for n in compared.notes] == list(rep.MEASURES)
    assert all(n.layer == "f" and "constant" in n.reason for n in compared.notes)
    assert compared.value(OUTPUT_LAYER, "jsd") is not None  # the outputs are still compared


def test_outputs_that_do_not_match_and_infinite_values_become_notes(models):
    X, Y, P, Q = models
    compared = compare_pair({}, {}, P, Q[:, :3])
    assert compared.values == ()
    assert [n.measure for n in compared.notes] == list(fn.OUTPUT_MEASURES)
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    other = np.array([[0.0, 1.0], [0.5, 0.5]])
    compared = compare_pair({}, {}, probs, other, output_measures=["kl", "jsd"],
                            from_logits=False)
    assert compared.value(OUTPUT_LAYER, "kl") is None and compared.value(OUTPUT_LAYER, "jsd") == 0.5
    assert compared.notes == (Note(OUTPUT_LAYER, "kl", "the value is inf: not recorded"),)


def test_a_warning_raised_while_measuring_becomes_a_note_and_the_value_is_kept(models, monkeypatch):
    X, Y, P, Q = models

    def loud(P, Q, from_logits=False):
        warnings.warn("rounding trouble", RuntimeWarning)
        return 0.25

    monkeypatch.setitem(fn.OUTPUT_MEASURES, "loud", Measure(
        "loud", loud, False, True, frozenset({CLASS_PERMUTATION}), (0.0, 1.0), "test only"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing escapes the compare path
        compared = compare_pair({}, {}, P, Q, output_measures=["loud"])
    assert compared.value(OUTPUT_LAYER, "loud") == 0.25
    assert compared.notes == (Note(OUTPUT_LAYER, "loud", "RuntimeWarning: rounding trouble"),)


def test_mistakes_in_the_call_raise(models):
    X, Y, P, Q = models
    with pytest.raises(InputError, match="unknown 'cka'"):
        compare_pair({"f": X}, {"f": Y}, measures=["cka"])
    with pytest.raises(InputError, match="unknown 'js'"):
        compare_pair({}, {}, P, Q, output_measures=["js"])
    with pytest.raises(InputError, match="same layers"):
        compare_pair({"f": X}, {"g": Y})
    with pytest.raises(InputError, match="both"):
        compare_pair({}, {}, P, None)
    with pytest.raises(InputError, match="outputs_a"):
        compare_pair({OUTPUT_LAYER: X}, {OUTPUT_LAYER: Y})


def test_a_comparison_round_trips_through_json_and_records_values_and_notes(models, tmp_path):
    X, Y, P, Q = models
    compared = compare_pair({"f": X[:3]}, {"f": Y[:3]}, P[:3], Q[:3],
                            measures=["linear_cka", "debiased_cka"])
    assert Comparison.from_json(compared.to_json()) == compared
    with pytest.raises(InputError, match="not a stored comparison"):
        Comparison.from_json({"values": [["f", "cka"]], "notes": []})
    with ResultsDB(tmp_path / "results.sqlite") as db:
        db.start_run("toy", "quick")
        record_comparison(db, compared, model_a="a", model_b="b", test_set="digits")
        pairs = db.pairs()
        notes = db.notes()
    assert len(pairs) == len(compared.values)
    assert set(pairs["layer"]) == {"f", OUTPUT_LAYER}
    assert notes[["study", "context", "layer", "measure"]].values.tolist() == [
        ["toy", pair_context("a", "b", "digits"), "f", "debiased_cka"]]
    assert pair_context("a", "b", "digits") == "a vs b on digits"
