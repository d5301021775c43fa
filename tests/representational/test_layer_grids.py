"""The layer-grid CKA accumulators: exact feature-space statistics and Nguyen et al.'s minibatch.

References are the float64 dense ``rep.linear_cka`` on the concatenated data.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from simfunc import InputError
from simfunc import representational as rep
from simfunc.representational.minibatch_cka import linear_gram, u_centre


def _layers(seed: int, n: int = 240):
    """Two 'models' of two layers each, related through a shared latent, one with a large mean."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 4))
    a1 = latent @ rng.standard_normal((4, 30)) + 0.5 * rng.standard_normal((n, 30)) + 1e4
    a2 = np.tanh(latent @ rng.standard_normal((4, 12)))
    b1 = latent[:, :2] @ rng.standard_normal((2, 9)) + rng.standard_normal((n, 9))
    b2 = rng.standard_normal((n, 5, 2)) * 1e-3  # unrelated, tiny scale, extra axis
    return [a1, a2], [b1, b2]


def _reference(list_a, list_b, debiased):
    return np.array([[rep.linear_cka(x, y, debiased=debiased) for y in list_b] for x in list_a])


@pytest.mark.parametrize("debiased", [False, True])
def test_exact_grid_equals_dense_linear_cka_to_1e_10(debiased):
    list_a, list_b = _layers(0)
    grid = rep.LinearCKAGrid()
    for start, stop in ((0, 7), (7, 100), (100, 101), (101, 240)):  # uneven, a 1-row batch
        grid.update([x[start:stop] for x in list_a],
                    [torch.from_numpy(y[start:stop]) for y in list_b])  # numpy and torch
    np.testing.assert_allclose(grid.compute(debiased=debiased),
                               _reference(list_a, list_b, debiased), rtol=0, atol=1e-10)
    assert grid.n_examples == 240


def test_minibatch_with_every_example_in_one_batch_is_debiased_cka():
    list_a, list_b = _layers(1)
    minibatch = rep.MinibatchCKA()
    minibatch.update(list_a, list_b)
    np.testing.assert_allclose(minibatch.compute(), _reference(list_a, list_b, True),
                               rtol=0, atol=1e-10)


@pytest.mark.slow  # many minibatch passes
def test_minibatch_converges_to_debiased_not_plain_cka():
    """Shuffled passes over a finite data set: the batch U-statistics are unbiased for the
    whole set's unbiased HSIC, so the estimate tends to debiased CKA (0.840 here), not plain
    CKA (0.873). 200 batches of 40: the spread over seeds is about 0.001."""
    rng = np.random.default_rng(1)
    n = 400
    latent = rng.standard_normal((n, 3))
    X = latent @ rng.standard_normal((3, 800)) + 4 * rng.standard_normal((n, 800))
    Y = latent @ rng.standard_normal((3, 600)) + 4 * rng.standard_normal((n, 600))
    debiased, plain = rep.linear_cka(X, Y, debiased=True), rep.linear_cka(X, Y)
    assert plain - debiased > 0.02  # the two references are far enough apart to tell
    minibatch = rep.MinibatchCKA()
    order_rng = np.random.default_rng(10)
    for _ in range(20):
        for rows in np.array_split(order_rng.permutation(n), n // 40):
            minibatch.update(X[rows], Y[rows])
    estimate = minibatch.compute()[0, 0]
    assert minibatch.n_batches == 200
    assert abs(estimate - debiased) < 0.005
    assert abs(estimate - plain) > 0.02


def test_minibatch_grid_matches_one_pair_at_a_time_and_self_map_diagonal_is_one():
    list_a, list_b = _layers(2)
    grid, pairs = rep.MinibatchCKA(), {}
    for rows in np.array_split(np.arange(240), 6):
        grid.update([x[rows] for x in list_a], [y[rows] for y in list_b])
        for i, x in enumerate(list_a):
            for j, y in enumerate(list_b):
                pairs.setdefault((i, j), rep.MinibatchCKA()).update(x[rows], y[rows])
    values = grid.compute()
    for (i, j), single in pairs.items():
        assert values[i, j] == pytest.approx(single.compute()[0, 0], abs=1e-12)
    own = rep.MinibatchCKA()
    for rows in np.array_split(np.arange(240), 6):
        own.update([x[rows] for x in list_a], [x[rows] for x in list_a])
    np.testing.assert_allclose(np.diag(own.compute()), 1.0, atol=1e-12)
    assert np.allclose(own.compute(), own.compute().T, atol=1e-12)


@given(seed=st.integers(0, 2**16), scale=st.floats(1e-3, 1e3), shift=st.floats(-1e3, 1e3))
def test_minibatch_invariant_to_rotation_scale_and_translation(seed, scale, shift):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((48, 6)), rng.standard_normal((48, 5))
    Y[:, 0] += X[:, 0]
    rotation, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    moved = scale * X @ rotation + shift
    first, second = rep.MinibatchCKA(), rep.MinibatchCKA()
    for rows in np.array_split(np.arange(48), 4):
        first.update(X[rows], Y[rows])
        second.update(moved[rows], Y[rows])
    assert second.compute()[0, 0] == pytest.approx(first.compute()[0, 0], abs=1e-9)


def test_u_centred_inner_product_is_the_unbiased_hsic():
    """<Ũ(K), Ũ(L)> / (n(n−3)) equals Song et al.'s closed form, written out independently."""
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((9, 4)), rng.standard_normal((9, 3))
    K, L = X @ X.T, Y @ Y.T
    n = 9
    Kt, Lt = K - np.diag(np.diag(K)), L - np.diag(np.diag(L))
    ones = np.ones(n)
    song = (np.trace(Kt @ Lt) + ones @ Kt @ ones * (ones @ Lt @ ones) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * ones @ Kt @ Lt @ ones) / (n * (n - 3))
    centred = u_centre(torch.from_numpy(np.stack([K, L])))
    assert float((centred[0] * centred[1]).sum()) / (n * (n - 3)) == pytest.approx(song,
                                                                                 rel=1e-12)
    assert torch.equal(linear_gram(X), linear_gram(torch.from_numpy(X)))


def test_bad_inputs_raise_input_errors_never_nan():
    minibatch = rep.MinibatchCKA(names_a=["dead"], names_b=["y"])
    with pytest.raises(InputError, match="no data"):
        minibatch.compute()
    with pytest.raises(InputError, match="at least 4"):
        minibatch.update(np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(InputError, match="same examples"):
        minibatch.update(np.random.rand(5, 2), np.random.rand(6, 2))
    with pytest.raises(InputError, match="NaN"):
        minibatch.update(np.full((5, 2), np.nan), np.random.rand(5, 2))
    minibatch.update(np.ones((6, 3)), np.random.rand(6, 2))  # a constant layer
    with pytest.raises(InputError, match="'dead' of model A.*constant"):
        minibatch.compute()
    with pytest.raises(InputError, match="layers"):
        minibatch.update([np.random.rand(6, 3)] * 2, np.random.rand(6, 2))
    grid = rep.LinearCKAGrid(names_a=["x"], names_b=["flat"])
    grid.update(np.random.rand(6, 3), np.zeros((6, 2)))
    with pytest.raises(InputError, match="'flat' of model B"):
        grid.compute()
    with pytest.raises(InputError, match="widths"):
        grid.update(np.random.rand(6, 4), np.zeros((6, 2)))
    with pytest.raises(InputError, match="rows"):
        rep.LinearCKAGrid().update([np.random.rand(6, 3), np.random.rand(5, 3)],
                                   np.random.rand(6, 2))


def test_grid_statistics_bytes_counts_the_blocks():
    from simfunc.representational.cka_grid import grid_statistics_bytes

    assert grid_statistics_bytes([2, 3], [4]) == 8 * (4 + 9 + 16 + 5 * 4 + 4 * 9)


def test_float32_features_give_float64_grams_within_their_rounding():
    """Activations arrive in float32: their Grams are multiplied in float32 (twice as fast),
    promoted to float64 after; the minibatch value moves by far less than its sampling error."""
    list_a, list_b = _layers(4)
    list_a = [x - x.mean(0) for x in list_a]
    single, double = rep.MinibatchCKA(), rep.MinibatchCKA()
    for rows in np.array_split(np.arange(240), 4):
        double.update([x[rows] for x in list_a], [y[rows] for y in list_b])
        single.update([torch.from_numpy(x[rows]).float() for x in list_a],
                      [torch.from_numpy(y[rows]).float() for y in list_b])
    np.testing.assert_allclose(single.compute(), double.compute(), atol=1e-5)
    assert linear_gram(torch.ones(5, 3)).dtype == torch.float64
