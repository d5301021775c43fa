"""Input types, the two linear-CKA forms, streaming LinearCKA, pairwise and compare_all."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import representational_reference as ref
import torch

from simfunc import InputError
from simfunc import representational as rep
import simfunc.representational._stacked as stacked_module
from simfunc.representational._prepared import prepare_pair
from simfunc.representational.cka import _feature_form, _gram_form


def _related(n, p, q, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    Y = X @ rng.standard_normal((p, q)) / np.sqrt(p) + rng.standard_normal((n, q))
    return X, Y


# --- input types ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(rep.MEASURES))
def test_numpy_and_torch_inputs_give_the_same_number(name):
    X32, Y32 = (a.astype(np.float32) for a in _related(30, 4, 5, seed=1))
    X32 += np.float32(100.0)
    measure = rep.MEASURES[name]
    expected = measure(X32.astype(np.float64), Y32.astype(np.float64))
    variants = [
        (X32, Y32),
        (torch.from_numpy(X32), torch.from_numpy(Y32)),
        (torch.from_numpy(X32).double(), torch.from_numpy(Y32).double()),
        (torch.from_numpy(X32).requires_grad_(), torch.from_numpy(Y32)),
    ]
    for X, Y in variants:
        assert measure(X, Y) == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_extra_axes_are_flattened_and_non_contiguous_input_works():
    X, Y = _related(20, 12, 6, seed=2)
    images = X.reshape(20, 3, 2, 2)
    assert rep.linear_cka(images, Y) == pytest.approx(rep.linear_cka(X, Y), abs=1e-14)
    transposed = np.asfortranarray(X)
    assert rep.cca(transposed, Y) == pytest.approx(rep.cca(X, Y), abs=1e-12)
    assert rep.linear_cka(torch.from_numpy(X.T.copy()).T, Y) == pytest.approx(
        rep.linear_cka(X, Y), abs=1e-14
    )


# --- linear CKA: feature form and Gram form ---------------------------------------------------


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("shape", [(50, 4, 7), (12, 30, 25), (15, 3, 40)])
def test_feature_form_and_gram_form_agree(shape, debiased):
    X, Y = _related(*shape, seed=3)
    X = X + 1e3
    feature = _feature_form(prepare_pair(X, Y), debiased)
    gram = _gram_form(prepare_pair(X, Y), debiased)
    assert feature == pytest.approx(gram, abs=1e-12)
    assert feature == pytest.approx(ref.linear_cka(X, Y, debiased), abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("mean", [0.0, 1.5, 1e4])
def test_linear_cka_with_and_without_the_centring_copy_agree(monkeypatch, mean, debiased):
    """Small means (n·μ² <= 4·Σ(x−μ)² per column): products on the raw inputs, centred by the
    rank-one identity. Large means: an explicit centred copy. Both match the reference."""
    X, Y = _related(200, 6, 9, seed=14)
    X = X + mean
    X[:, 2] = 0.0  # a dead unit: mean exactly 0, always safe
    expected = ref.linear_cka(X, Y, debiased)
    # With a mean of 1e4, centring any float64 data rounds each entry by ~eps·1e4 = 2e-12.
    tolerance = 1e-11 if mean > 100 else 1e-13
    used = []
    original = stacked_module._uncentred_matrix
    monkeypatch.setattr(
        stacked_module, "_uncentred_matrix", lambda *a: used.append(True) or original(*a)
    )
    assert rep.linear_cka(X, Y, debiased=debiased) == pytest.approx(expected, abs=tolerance)
    assert bool(used) == (mean < 2.0)
    monkeypatch.setattr(stacked_module, "_SAFE_MEAN_RATIO", -1.0)  # always copy
    assert rep.linear_cka(X, Y, debiased=debiased) == pytest.approx(expected, abs=tolerance)


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("mean", [0.0, 1e4])
def test_pairwise_with_and_without_the_stacked_copy_agree(monkeypatch, mean, debiased):
    """pairwise linear CKA skips the stacked copy when every input is float64 with small means."""
    models = {f"m{i}": _related(120, 5 + i, 4, seed=20 + i)[0] + (mean if i == 1 else 0.0)
              for i in range(4)}
    names = list(models)
    expected = np.array([[ref.linear_cka(models[a], models[b], debiased) for b in names]
                         for a in names])
    used = []
    original = stacked_module._uncentred_matrix
    monkeypatch.setattr(
        stacked_module, "_uncentred_matrix", lambda *a: used.append(True) or original(*a)
    )
    table = rep.pairwise(models, "debiased_cka" if debiased else "linear_cka")
    np.testing.assert_allclose(table.to_numpy(), expected, atol=1e-11)
    assert bool(used) == (mean == 0.0)
    float32 = {name: data.astype(np.float32) for name, data in models.items()}
    used.clear()
    rep.pairwise(float32, "linear_cka")
    assert not used  # float32 inputs are converted anyway: centred into the stack


# --- streaming --------------------------------------------------------------------------------


def _stream(batches, debiased=False):
    metric = rep.LinearCKA()
    for X, Y in batches:
        metric.update(X, Y)
    return metric.compute(debiased=debiased), metric


@pytest.mark.parametrize("debiased", [False, True])
def test_streaming_equals_one_shot_with_uneven_batches_and_large_mean(debiased):
    X, Y = _related(300, 6, 9, seed=4)
    X = X + 1e4
    Y = Y - 3e4
    cuts = [0, 1, 8, 50, 51, 170, 300]
    batches = [(X[a:b], Y[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    value, metric = _stream(batches, debiased)
    assert metric.n_examples == 300
    expected = ref.linear_cka(X, Y, debiased)
    assert value == pytest.approx(expected, rel=1e-10)
    assert value == pytest.approx(rep.linear_cka(X, Y, debiased=debiased), rel=1e-10)


@pytest.mark.parametrize("debiased", [False, True])
def test_streaming_float32_and_torch_batches_with_drifting_mean(debiased):
    X, Y = _related(400, 5, 3, seed=5)
    X32 = (X + 1e4).astype(np.float32)
    Y32 = Y.astype(np.float32)
    batches = []
    for start in range(0, 400, 64):
        drift = np.float32(start)  # the mean moves from batch to batch
        x = X32[start : start + 64] + drift
        batches.append((torch.from_numpy(x), Y32[start : start + 64]))
    value, _ = _stream(batches, debiased)
    X_all = np.vstack([np.asarray(x, dtype=np.float64) for x, _ in batches])
    expected = ref.linear_cka(X_all, Y32.astype(np.float64), debiased)
    assert value == pytest.approx(expected, rel=1e-10)


def test_streaming_with_single_row_batches_and_reset():
    X, Y = _related(12, 3, 2, seed=6)
    value, metric = _stream([(X[i : i + 1], Y[i : i + 1]) for i in range(12)], debiased=True)
    assert value == pytest.approx(ref.linear_cka(X, Y, True), rel=1e-10)
    metric.reset()
    assert metric.n_examples == 0
    with pytest.raises(InputError, match="no data"):
        metric.compute()
    metric.update(X[:5], Y[:5] * 2)
    metric.update(X[5:], Y[5:] * 2)
    assert metric.compute() == pytest.approx(ref.linear_cka(X, Y), rel=1e-10)


def test_streaming_rejects_bad_batches():
    X, Y = _related(10, 3, 2, seed=7)
    metric = rep.LinearCKA()
    metric.update(X[:5], Y[:5])
    with pytest.raises(InputError, match="X_batch has 4 features but earlier batches had 3"):
        metric.update(np.hstack([X[5:], X[5:, :1]]), Y[5:])
    with pytest.raises(InputError, match="Y_batch has 1 features"):
        metric.update(X[5:], Y[5:, :1])
    with pytest.raises(InputError, match="X_batch has 5 rows but Y_batch has 4"):
        metric.update(X[5:], Y[5:9])
    bad = X[5:].copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="X_batch contains 1 NaN"):
        metric.update(bad, Y[5:])
    with pytest.raises(InputError, match="debiased"):
        metric.compute(debiased="no")
    assert metric.n_examples == 5  # rejected batches left no trace
    assert metric.compute() == pytest.approx(ref.linear_cka(X[:5], Y[:5]), rel=1e-10)


def test_streaming_needs_enough_examples_and_a_varying_matrix():
    metric = rep.LinearCKA()
    metric.update(np.ones((2, 2)), np.arange(4.0).reshape(2, 2))
    with pytest.raises(InputError, match="at least 3"):
        metric.compute()  # the rule of every representational measure
    metric.update(np.ones((1, 2)), np.arange(2.0).reshape(1, 2) + 7)
    with pytest.raises(InputError, match="at least 4"):
        metric.compute(debiased=True)
    with pytest.raises(InputError, match="X is constant"):
        metric.compute()
    metric.update(np.ones((2, 2)) * 5, np.zeros((2, 2)))
    assert 0.0 <= metric.compute() <= 1.0


# --- pairwise -----------------------------------------------------------------------------------


def _models(count=3, n=24, seed=8):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, 4))
    return {
        f"m{i}": base @ rng.standard_normal((4, 3 + i)) + rng.standard_normal((n, 3 + i)) + i
        for i in range(count)
    }


@pytest.mark.parametrize("name", list(rep.MEASURES))
def test_pairwise_equals_the_per_pair_loop(name):
    models = _models()
    table = rep.pairwise(models, name)
    assert isinstance(table, pd.DataFrame)
    assert list(table.index) == list(models) == list(table.columns)
    measure = rep.MEASURES[name]
    for a in models:
        for b in models:
            assert table.loc[a, b] == pytest.approx(measure(models[a], models[b]), abs=1e-12)


def test_pairwise_fills_both_orders_for_asymmetric_pwcca():
    models = _models()
    rng = np.random.default_rng(0)
    models["m3"] = models["m2"] @ rng.standard_normal((5, 5)) + rng.standard_normal((24, 5))
    table = rep.pairwise(models, "pwcca")
    assert abs(table.loc["m2", "m3"] - table.loc["m3", "m2"]) > 1e-6
    assert table.loc["m3", "m2"] == pytest.approx(rep.pwcca(models["m3"], models["m2"]), abs=1e-12)


def test_pairwise_options_override_the_registry():
    models = _models()
    table = rep.pairwise(models, "mutual_knn", k=3)
    assert table.loc["m0", "m1"] == pytest.approx(
        rep.mutual_knn(models["m0"], models["m1"], k=3), abs=1e-12
    )
    table = rep.pairwise(models, "linear_cka", debiased=True)
    assert table.loc["m0", "m2"] == pytest.approx(
        ref.linear_cka(models["m0"], models["m2"], debiased=True), abs=1e-12
    )


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize(
    "n, block_elements",
    [
        (60, 2**24),  # feature form, one product (total width 3+4+5+6 = 18 <= 3n)
        (60, 64),  # feature form in column blocks
        (5, 2**24),  # Gram form, one tile (total width 18 > 3n)
        (5, 4 * 2 * 2),  # Gram form in 2 x 2 tiles (the last ones ragged)
    ],
)
def test_stacked_linear_cka_in_every_form_and_blocking(monkeypatch, n, block_elements, debiased):
    monkeypatch.setattr(stacked_module, "_BLOCK_ELEMENTS", block_elements)
    models = _models(count=4, n=n, seed=9)
    models["m0"] = models["m0"].astype(np.float32)  # a converted copy, re-read when stacking
    table = rep.pairwise(models, "linear_cka", debiased=debiased)
    for a in models:
        for b in models:
            expected = ref.linear_cka(models[a], models[b], debiased)
            assert table.loc[a, b] == pytest.approx(expected, abs=1e-12)


def test_pairwise_accepts_any_labels_and_torch_tensors():
    models = _models()
    labelled = {("resnet", 0): models["m0"], ("resnet", 1): torch.from_numpy(models["m1"])}
    table = rep.pairwise(labelled)
    assert list(table.index) == [("resnet", 0), ("resnet", 1)] == list(table.columns)
    assert not isinstance(table.index, pd.MultiIndex)
    assert table.iloc[1, 0] == pytest.approx(rep.linear_cka(models["m1"], models["m0"]), abs=1e-12)


def test_pairwise_rejects_bad_input():
    models = _models()
    with pytest.raises(InputError, match="measure must be one of"):
        rep.pairwise(models, "cosine")
    with pytest.raises(InputError, match="does not take option"):
        rep.pairwise(models, "linear_cka", k=3)
    with pytest.raises(InputError, match="non-empty mapping"):
        rep.pairwise({})
    short = dict(models, m1=models["m1"][:-1])
    for measure in ("linear_cka", "cca"):
        with pytest.raises(InputError, match=r"features\['m1'\] has 23"):
            rep.pairwise(short, measure)
    bad = dict(models, m2=np.full_like(models["m2"], np.nan))
    with pytest.raises(InputError, match=r"features\['m2'\] contains"):
        rep.pairwise(bad)
    with pytest.raises(InputError, match="at least 4"):
        rep.pairwise({k: v[:3] for k, v in models.items()}, "debiased_cka")


# --- compare_all --------------------------------------------------------------------------------


def test_compare_all_equals_the_individual_calls():
    X, Y = _related(40, 5, 7, seed=10)
    results = rep.compare_all(X, Y)
    assert list(results) == list(rep.MEASURES)
    for name, value in results.items():
        assert value == pytest.approx(rep.MEASURES[name](X, Y), abs=1e-12)


def test_compare_all_with_chosen_names():
    X, Y = _related(40, 5, 7, seed=11)
    results = rep.compare_all(X, Y, names=["pwcca", "cca"])
    assert list(results) == ["pwcca", "cca"]
    single = rep.compare_all(X, Y, names="svcca")
    assert list(single) == ["svcca"]
    assert single["svcca"] == pytest.approx(rep.svcca(X, Y), abs=1e-12)
    with pytest.raises(InputError, match="measure must be one of"):
        rep.compare_all(X, Y, names=["cka"])


def test_compare_all_skips_uninformative_measures_only_when_asked():
    X, Y = _related(12, 11, 3, seed=12)  # rank X = 11 = n − 1: CCA is uninformative
    with pytest.raises(InputError, match="uninformative"):
        rep.compare_all(X, Y)
    with pytest.warns(UserWarning, match="cca left out"):
        results = rep.compare_all(X, Y, skip_errors=True)
    assert "cca" not in results and "pwcca" not in results
    assert results["linear_cka"] == pytest.approx(rep.linear_cka(X, Y), abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="NaN"):
            rep.compare_all(np.full((12, 3), np.nan), Y, skip_errors=True)


def test_dead_units_centre_to_exact_zeros_even_with_large_means():
    from simfunc.representational._prepared import PreparedFeatures

    rng = np.random.default_rng(13)
    X = rng.standard_normal((37, 4)) + 1e4
    X[:, 1] = 0.1  # 37 * 0.1 is not exact in binary: a naive mean leaves a rounding residue
    X[:, 3] = 1e4 / 3
    centred = PreparedFeatures(X).centred
    assert np.all(centred[:, [1, 3]] == 0.0)
    np.testing.assert_allclose(centred.mean(axis=0), 0.0, atol=1e-12)
    assert rep.canonical_correlations(X, rng.standard_normal((37, 3))).shape == (2,)


# --- One HSIC kernel, every path (issue 23): the published values through each of them ---

KORNBLITH_PLAIN, KORNBLITH_DEBIASED = 0.5576132566, 0.5134564895


def _kornblith_demo():
    np.random.seed(1337)
    X = np.random.randn(100, 10)
    Y = np.random.randn(100, 10) + X
    return X, Y


def _every_linear_cka_path(X, Y, debiased):
    """Linear CKA of (X, Y) by every path that has its own entry point, by name."""
    from simfunc.representational._stacked import stacked_linear_cka
    from simfunc.representational.cka import compare_linear_cka

    values = {
        "linear_cka": rep.linear_cka(X, Y, debiased=debiased),
        "float32 path": rep.linear_cka(X.astype(np.float32), Y.astype(np.float32),
                                       debiased=debiased, precision="float32"),
        "float32 path, float64 input": rep.linear_cka(X, Y, debiased=debiased,
                                                      precision="float32"),
        "CPU tensors": rep.linear_cka(torch.from_numpy(X), torch.from_numpy(Y),
                                      debiased=debiased),
        "prepared pair (torch)": compare_linear_cka(
            prepare_pair(torch.from_numpy(X), torch.from_numpy(Y)), debiased=debiased),
        "prepared pair, Gram form": _gram_form(prepare_pair(X, Y), debiased),
        "torch_linear_cka": float(rep.torch_linear_cka(torch.from_numpy(X), torch.from_numpy(Y),
                                                       debiased=debiased)),
        "torch_linear_cka float32": float(rep.torch_linear_cka(
            torch.from_numpy(X).float(), torch.from_numpy(Y).float(), debiased=debiased,
            dtype=torch.float32)),
        "pairwise (stacked)": float(stacked_linear_cka([X, Y, X[:, :3]], ["x", "y", "z"],
                                                       debiased=debiased)[0, 1]),
    }
    streaming, streaming_torch = rep.LinearCKA(), rep.LinearCKA()
    grid = rep.LinearCKAGrid()
    for rows in (slice(0, 37), slice(37, 38), slice(38, 100)):
        streaming.update(X[rows], Y[rows])
        streaming_torch.update(torch.from_numpy(X[rows]), torch.from_numpy(Y[rows]))
        grid.update([X[rows], X[rows, :4]], [Y[rows]])
    values["LinearCKA"] = streaming.compute(debiased=debiased)
    values["LinearCKA (torch)"] = streaming_torch.compute(debiased=debiased)
    values["LinearCKAGrid"] = float(grid.compute(debiased=debiased)[0, 0])
    if debiased:  # one batch holding all the data: minibatch CKA is the debiased CKA
        minibatch = rep.MinibatchCKA()
        minibatch.update([X], [Y])
        values["MinibatchCKA"] = float(minibatch.compute()[0, 0])
    return values


@pytest.mark.parametrize("debiased, expected",
                         [(False, KORNBLITH_PLAIN), (True, KORNBLITH_DEBIASED)])
def test_every_linear_cka_path_gives_the_published_value(debiased, expected):
    X, Y = _kornblith_demo()
    for path, value in _every_linear_cka_path(X, Y, debiased).items():
        tolerance = 1e-6 if "float32" in path else 1e-9
        assert value == pytest.approx(expected, abs=tolerance), path


@pytest.mark.parametrize("debiased", [False, True])
def test_every_linear_cka_path_keeps_the_invariances(debiased):
    """Translation, isotropic scaling and an orthogonal map of X change no path's value."""
    X, Y = _kornblith_demo()
    rng = np.random.default_rng(5)
    Q, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    before = _every_linear_cka_path(X, Y, debiased)
    after = _every_linear_cka_path(3.0 * X @ Q + 50.0, Y, debiased)
    for path in before:
        tolerance = 1e-6 if "float32" in path else 1e-10
        assert after[path] == pytest.approx(before[path], abs=tolerance), path
