"""Input validation: every bad input becomes an InputError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simfunc import InputError
from simfunc.validation import (
    as_feature_pair,
    as_features,
    as_vector,
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_known,
    check_number,
    check_positive,
)


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)


def test_features_become_float64_and_extra_axes_flatten():
    X = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    out = as_features(X)
    assert out.dtype == np.float64 and out.shape == (2, 12) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, X.reshape(2, 12))


def test_torch_tensors_with_grad_and_half_precision_are_accepted():
    tensor = torch.randn(5, 3, requires_grad=True)
    np.testing.assert_allclose(as_features(tensor), tensor.detach().numpy())
    assert as_features(torch.randn(5, 3).to(torch.bfloat16)).dtype == np.float64


@pytest.mark.parametrize(
    "value, fragment",
    [
        (None, "X is None"),
        ("abc", "str"),
        (np.array([["a", "b"], ["c", "d"]]), "dtype"),
        (np.array([[1 + 1j, 2], [3, 4]]), "complex"),
        (np.zeros(5), "dimension"),
        (np.zeros((0, 3)), "empty"),
        (np.zeros((3, 0)), "empty"),
        (np.ones((1, 3)), "1 example"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), "NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), "infinite"),
        ([[1, 2], [3]], "could not be read"),
    ],
)
def test_bad_features_raise_input_error_naming_the_argument(value, fragment):
    with pytest.raises(InputError, match=fragment) as info:
        as_features(value, "X")
    assert "X" in str(info.value)


def test_pair_with_different_rows_is_rejected():
    with pytest.raises(InputError, match="X has 4 rows but Y has 5"):
        as_feature_pair(np.ones((4, 2)), np.ones((5, 2)))


def test_min_examples_is_enforced():
    with pytest.raises(InputError, match="at least 4"):
        as_feature_pair(np.random.randn(3, 2), np.random.randn(3, 2), min_examples=4)


def test_vectors_and_scalars():
    np.testing.assert_array_equal(as_vector([1, 2, 3], "x"), [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="x has shape"):
        as_vector(np.ones((2, 2)), "x")
    with pytest.raises(InputError, match="threshold must be positive"):
        check_positive(0.0, "threshold")
    with pytest.raises(InputError, match="threshold must be a finite number"):
        check_positive(float("nan"), "threshold")
    with pytest.raises(InputError, match=r"variance must be in \(0, 1\]"):
        check_fraction(1.5, "variance")
    with pytest.raises(InputError, match="k must be at least 1"):
        check_int(0, "k", minimum=1)
    with pytest.raises(InputError, match="k must be an integer"):
        check_int(2.5, "k")
    with pytest.raises(InputError, match="reduction must be one of"):
        check_choice("sum", "reduction", ("mean", "none"))


def test_numbers_booleans_and_known_names():
    assert check_number(-2, "ent_coef") == -2.0 and isinstance(check_number(3, "x"), float)
    assert check_number(0.0, "ent_coef", minimum=0) == 0.0
    with pytest.raises(InputError, match="ent_coef must be at least 0"):
        check_number(-0.1, "ent_coef", minimum=0)
    for bad in (True, "1", float("inf"), None):
        with pytest.raises(InputError, match="x must be a finite number"):
            check_number(bad, "x")
    assert check_bool(np.bool_(True), "flag") is True and check_bool(False, "flag") is False
    for bad in (1, 0, "yes", None):
        with pytest.raises(InputError, match="flag must be True or False"):
            check_bool(bad, "flag")
    check_known({"a": 1}, ("a", "b"), "setting(s)")
    with pytest.raises(InputError, match="unknown setting\\(s\\) c, d; known: a, b"):
        check_known(["d", "a", "c"], ("b", "a"), "setting(s)")
