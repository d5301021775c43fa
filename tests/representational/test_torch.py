"""Torch tensors computed in torch on their device (issue 14, part 4): every registered measure
gives the numpy value to 1e-10 with the same validation; the differentiable linear CKA
(``torch_linear_cka``) matches the numpy one and passes gradcheck; the float32 fast path stays
within 1e-6 of float64 on features with a +1e4 offset. CUDA tests skip without a device."""

from __future__ import annotations

import numpy as np
import pytest
import representational_reference as ref
import torch
from torch.autograd import gradcheck

from simfunc import InputError
from simfunc import representational as rep

NAMES = list(rep.MEASURES)
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def _related(n: int, p: int, q: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.3, 3.0, size=p)
    Y = X @ rng.standard_normal((p, q)) / np.sqrt(p) + 0.7 * rng.standard_normal((n, q))
    return X, Y


def _variant(name: str) -> tuple[np.ndarray, np.ndarray]:
    X, Y = _related(48, 5, 7, seed=1)
    if name == "dead_and_collinear":
        X[:, 1] = 3.0
        X[:, -1] = X[:, 0] + X[:, 2]
    elif name == "ill_conditioned":  # a map of condition 1e5: the QR/SVD route
        rng = np.random.default_rng(2)
        Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
        X = X @ (Q * np.logspace(0, -5, 5)) @ Q.T
    elif name == "wide":
        X, Y = _related(14, 20, 6, seed=3)
    elif name == "large_mean":
        X, Y = X + 1e4, Y - 3e3
    return X, Y


VARIANTS = ["plain", "dead_and_collinear", "ill_conditioned", "wide", "large_mean"]


def _applicable(name: str, X: np.ndarray, Y: np.ndarray) -> bool:
    measure = rep.MEASURES[name]
    try:
        measure(X, Y)
    except InputError:  # e.g. CCA uninformative on the wide variant: same refusal checked below
        return False
    return X.shape[0] >= measure.min_examples


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", NAMES)
def test_torch_gives_the_numpy_value(name, variant):
    X, Y = _variant(variant)
    measure = rep.MEASURES[name]
    if not _applicable(name, X, Y):
        with pytest.raises(InputError):
            measure(torch.from_numpy(X), torch.from_numpy(Y))
        return
    expected = measure(X, Y)
    for tx, ty in [
        (torch.from_numpy(X), torch.from_numpy(Y)),
        (torch.from_numpy(X), Y),  # mixed: the numpy input joins the tensor's device
        (torch.from_numpy(X).requires_grad_(), torch.from_numpy(Y)),
    ]:
        assert measure(tx, ty) == pytest.approx(expected, abs=1e-10)


# linear_cka reads CPU tensors in place through numpy (the same memory, no copy: numpy's BLAS
# has the syrk torch lacks, so tensors cost what arrays cost); every other measure runs in torch.
CPU_VIEWED = {"linear_cka", "debiased_cka"}


@pytest.mark.parametrize("name", NAMES)
def test_torch_inputs_are_not_copied_to_numpy(name, monkeypatch):
    """Computed in torch, or (linear CKA on CPU tensors) by numpy on the tensor's own memory:
    no tensor is copied into a numpy array on the way."""
    X, Y = _variant("plain")
    tx, ty = torch.from_numpy(X), torch.from_numpy(Y)
    expected = rep.MEASURES[name](X, Y)
    original_numpy = torch.Tensor.numpy
    viewed = []

    def refuse(*args, **kwargs):
        raise AssertionError("a tensor was converted to numpy")

    def view_in_place(tensor, *args, **kwargs):
        if name not in CPU_VIEWED:
            refuse()
        array = original_numpy(tensor, *args, **kwargs)
        assert array.ctypes.data == tensor.data_ptr()  # the tensor's memory, not a copy
        viewed.append(array)
        return array

    monkeypatch.setattr(torch.Tensor, "numpy", view_in_place)
    monkeypatch.setattr(torch.Tensor, "__array__", refuse)
    assert rep.MEASURES[name](tx, ty) == pytest.approx(expected, abs=1e-10)
    assert len(viewed) == (2 if name in CPU_VIEWED else 0)


def test_compare_all_and_pairwise_on_tensors():
    X, Y = _variant("plain")
    expected = rep.compare_all(X, Y)
    got = rep.compare_all(torch.from_numpy(X), torch.from_numpy(Y))
    assert list(got) == list(expected)
    for name in expected:
        assert got[name] == pytest.approx(expected[name], abs=1e-10)
    models = {"a": X, "b": torch.from_numpy(Y), "c": torch.from_numpy(X[:, :3] + 1.0)}
    for name in ("linear_cka", "cca", "pwcca", "gulp"):
        table = rep.pairwise(models, name)
        numpy_table = rep.pairwise({k: np.asarray(v) for k, v in models.items()}, name)
        np.testing.assert_allclose(table.to_numpy(), numpy_table.to_numpy(), atol=1e-10)


BAD = {
    "nan": lambda X: torch.where(torch.arange(X.numel()).reshape(X.shape) == 5, torch.nan, X),
    "inf": lambda X: torch.where(torch.arange(X.numel()).reshape(X.shape) == 0, -torch.inf, X),
    "vector": lambda X: X[:, 0],
    "no-rows": lambda X: X[:0],
    "constant": lambda X: torch.full_like(X, 7.0),
    "two-examples": lambda X: X[:2],
    "complex": lambda X: X.to(torch.complex128),
}


@pytest.mark.parametrize("bad", list(BAD))
@pytest.mark.parametrize("name", NAMES)
def test_same_validation_and_messages_as_numpy(name, bad):
    X, Y = _variant("plain")
    broken = BAD[bad](torch.from_numpy(X))
    measure = rep.MEASURES[name]
    with pytest.raises(InputError) as from_torch:
        measure(broken, torch.from_numpy(Y[: broken.shape[0]] if broken.ndim else Y))
    with pytest.raises(InputError) as from_numpy:
        measure(broken.numpy(), Y[: broken.shape[0]] if broken.ndim else Y)
    assert str(from_torch.value) == str(from_numpy.value)
    assert str(from_torch.value).startswith("X")


def test_tensors_on_two_devices_are_refused():
    """The check itself, with stand-ins for two devices (this machine has one)."""
    from types import SimpleNamespace

    from simfunc.representational._prepared import same_backend

    def model(name, device):
        return SimpleNamespace(name=name, is_tensor=True, data=SimpleNamespace(device=device))

    same_backend(model("X", "cuda:0"), model("Y", "cuda:0"))
    with pytest.raises(InputError, match="Y is on cuda:1 but X is on cuda:0"):
        same_backend(model("X", "cuda:0"), model("Y", "cuda:1"))


@CUDA
def test_cpu_and_cuda_tensors_together_are_refused():
    X, Y = _variant("plain")
    with pytest.raises(InputError, match="^Y is on cpu"):
        rep.linear_cka(torch.from_numpy(X).cuda(), torch.from_numpy(Y))


def test_low_precision_tensors_are_computed_in_float64():
    X, Y = _variant("plain")
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        tx, ty = torch.from_numpy(X).to(dtype), torch.from_numpy(Y).to(dtype)
        expected = rep.cca(tx.double().numpy(), ty.double().numpy())
        assert rep.cca(tx, ty) == pytest.approx(expected, abs=1e-12)


# --- the differentiable linear CKA -------------------------------------------------------------


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("shape", [(60, 5, 8), (15, 30, 12)])  # feature form; Gram form
def test_torch_linear_cka_equals_the_numpy_one(shape, debiased):
    X, Y = _related(*shape, seed=4)
    X = X + 1e3
    value = rep.torch_linear_cka(torch.from_numpy(X), torch.from_numpy(Y), debiased=debiased)
    assert value.dtype == torch.float64 and value.ndim == 0
    assert float(value) == pytest.approx(rep.linear_cka(X, Y, debiased=debiased), abs=1e-12)
    assert float(value) == pytest.approx(ref.linear_cka(X, Y, debiased), abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("shape", [(12, 3, 4), (8, 10, 9)])
def test_torch_linear_cka_passes_gradcheck(shape, debiased):
    X, Y = _related(*shape, seed=5)
    inputs = (torch.tensor(X, requires_grad=True), torch.tensor(Y, requires_grad=True))
    assert gradcheck(lambda a, b: rep.torch_linear_cka(a, b, debiased=debiased), inputs)


def test_gradients_flow_to_float32_inputs_and_move_cka_up():
    """One gradient step on X along ∂CKA/∂X increases CKA: the penalty trains."""
    X, Y = _related(40, 6, 6, seed=6)
    x = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    y = torch.tensor(Y, dtype=torch.float32)
    value = rep.torch_linear_cka(x, y)
    value.backward()
    assert x.grad is not None and x.grad.dtype == torch.float32
    assert float(x.grad.abs().sum()) > 0
    stepped = rep.torch_linear_cka(x.detach() + 0.05 * x.grad, y)
    assert float(stepped) > float(value.detach())


def test_torch_linear_cka_validates_like_every_measure():
    X, Y = _related(20, 3, 4, seed=7)
    tx, ty = torch.from_numpy(X), torch.from_numpy(Y)
    with pytest.raises(InputError, match="^X is a ndarray"):
        rep.torch_linear_cka(X, ty)
    with pytest.raises(InputError, match="X has 20 rows but Y has 19"):
        rep.torch_linear_cka(tx, ty[:19])
    with pytest.raises(InputError, match="at least 3"):
        rep.torch_linear_cka(tx[:2], ty[:2])
    with pytest.raises(InputError, match="at least 4"):
        rep.torch_linear_cka(tx[:3], ty[:3], debiased=True)
    with pytest.raises(InputError, match="^Y contains 1 NaN"):
        rep.torch_linear_cka(tx, torch.where(ty == ty[0, 0], torch.nan, ty))
    with pytest.raises(InputError, match="^X is constant"):
        rep.torch_linear_cka(torch.ones_like(tx), ty)
    with pytest.raises(InputError, match="^eps"):
        rep.torch_linear_cka(tx, ty, eps=-1.0)
    with pytest.raises(InputError, match="^dtype"):
        rep.torch_linear_cka(tx, ty, dtype=torch.float16)
    # A training penalty asks for robustness instead: a constant batch gives 0, not an error.
    assert float(rep.torch_linear_cka(torch.ones_like(tx), ty, eps=1e-12)) == 0.0


# --- the float32 fast path -------------------------------------------------------------------


def _offset_float32(n: int = 3000, width: int = 48, seed: int = 8):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, width)) * rng.uniform(0.5, 2.0, size=width)
    Y = X @ rng.standard_normal((width, width)) / np.sqrt(width) + rng.standard_normal((n, width))
    return (X + 1e4).astype(np.float32), (Y + 1e4).astype(np.float32)


def _float32_native_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """sim_metric's lin_cka_dist recipe (centre, normalise, three products), all in float32."""
    A, B = X.T, Y.T
    A = A - A.mean(axis=1, keepdims=True)
    B = B - B.mean(axis=1, keepdims=True)
    A, B = A / np.linalg.norm(A), B / np.linalg.norm(B)
    return float(np.linalg.norm(B @ A.T) ** 2 / (np.linalg.norm(A @ A.T) * np.linalg.norm(B @ B.T)))


@pytest.mark.parametrize("debiased", [False, True])
def test_float32_fast_path_is_within_1e_6_with_a_large_offset(debiased):
    X, Y = _offset_float32()
    exact = rep.linear_cka(X, Y, debiased=debiased)  # float64 arithmetic on the same inputs
    assert rep.linear_cka(X, Y, debiased=debiased, precision="float32") == pytest.approx(
        exact, abs=1e-6)  # fmt: skip
    tx, ty = torch.from_numpy(X), torch.from_numpy(Y)
    assert rep.linear_cka(tx, ty, debiased=debiased, precision="float32") == pytest.approx(
        exact, abs=1e-6)  # fmt: skip
    fast = rep.torch_linear_cka(tx, ty, debiased=debiased, dtype=torch.float32)
    assert fast.dtype == torch.float32 and float(fast) == pytest.approx(exact, abs=1e-6)


def test_float32_native_centring_is_what_loses_the_digits():
    """The data is hard for float32: centring in float32 (sim_metric's recipe) is off by far
    more than 1e-6 here, so the test above can fail."""
    X, Y = _offset_float32()
    assert abs(_float32_native_cka(X, Y) - rep.linear_cka(X, Y)) > 1e-5


def test_float32_fast_path_in_the_gram_form_and_in_pairwise():
    rng = np.random.default_rng(9)
    X = (rng.standard_normal((40, 200)) + 1e4).astype(np.float32)  # p + q > 3n: Gram form
    Y = (X[:, :150] * 0.5 + rng.standard_normal((40, 150))).astype(np.float32)
    assert rep.linear_cka(X, Y, precision="float32") == pytest.approx(
        rep.linear_cka(X, Y), abs=1e-6)  # fmt: skip
    models = {"x": X, "y": Y, "z": X[:, :30]}
    fast = rep.pairwise(models, "linear_cka", precision="float32").to_numpy()
    exact = rep.pairwise(models, "linear_cka").to_numpy()
    np.testing.assert_allclose(fast, exact, atol=1e-6)
    with pytest.raises(InputError, match="^precision"):
        rep.linear_cka(X, Y, precision="float16")


def test_float64_input_to_the_float32_path_is_centred_before_the_cast():
    rng = np.random.default_rng(10)
    X = rng.standard_normal((500, 20)) + 1e7  # the offset alone would swamp float32
    Y = X[:, :10] - 1e7 + rng.standard_normal((500, 10))
    assert rep.linear_cka(X, Y, precision="float32") == pytest.approx(
        rep.linear_cka(X, Y), abs=1e-6)  # fmt: skip


# --- CUDA (skipped without a device) -------------------------------------------------------------


@CUDA
@pytest.mark.parametrize("name", NAMES)
def test_cuda_gives_the_numpy_value(name):
    for variant in ("plain", "ill_conditioned", "large_mean"):
        X, Y = _variant(variant)
        expected = rep.MEASURES[name](X, Y)
        got = rep.MEASURES[name](torch.from_numpy(X).cuda(), torch.from_numpy(Y).cuda())
        assert got == pytest.approx(expected, abs=1e-10)


@CUDA
def test_cuda_differentiable_cka_and_float32_fast_path():
    X, Y = _related(60, 5, 8, seed=11)
    x = torch.tensor(X, device="cuda", requires_grad=True)
    value = rep.torch_linear_cka(x, torch.tensor(Y, device="cuda"))
    value.backward()
    assert value.device.type == "cuda" and x.grad is not None
    assert float(value) == pytest.approx(rep.linear_cka(X, Y), abs=1e-12)
    X32, Y32 = _offset_float32()
    fast = rep.linear_cka(torch.from_numpy(X32).cuda(), torch.from_numpy(Y32).cuda(),
                          precision="float32")
    assert fast == pytest.approx(rep.linear_cka(X32, Y32), abs=1e-6)


@pytest.mark.parametrize("debiased", [False, True])
def test_streaming_accumulates_torch_batches_on_their_device(debiased, monkeypatch):
    X, Y = _related(90, 5, 7, seed=12)
    X = X + 1e4
    batches = [(torch.from_numpy(X[i:i + 20]), torch.from_numpy(Y[i:i + 20]))
               for i in range(0, 90, 20)]
    metric = rep.LinearCKA()
    metric.update(*batches[0])
    metric.update(X[20:40], Y[20:40])  # numpy batches join the first batch's device
    original_numpy = torch.Tensor.numpy

    def refuse(*args, **kwargs):
        raise AssertionError("a batch was copied to numpy")

    monkeypatch.setattr(torch.Tensor, "numpy", refuse)
    for batch in batches[2:]:
        metric.update(*batch)
    outer = metric._moments.outer[0]  # the shared accumulation loop (_moments)
    assert outer.device.type == "cpu" and torch.is_tensor(outer)
    monkeypatch.setattr(torch.Tensor, "numpy", original_numpy)
    assert metric.compute(debiased=debiased) == pytest.approx(
        ref.linear_cka(X, Y, debiased), abs=1e-11)  # fmt: skip
    with pytest.raises(InputError, match="^X_batch contains"):
        metric.update(torch.full((3, 5), torch.nan, dtype=torch.float64), Y[:3])


def test_float32_path_refuses_bad_values_like_the_float64_path():
    """The float32 pair path checks finiteness in its first pass: the same InputError, naming
    the argument and the first bad index; overflow of float32 products is refused by name."""
    rng = np.random.default_rng(12)
    X = rng.standard_normal((60, 5)).astype(np.float32)
    Y = rng.standard_normal((60, 4)).astype(np.float32)
    for bad, name in ((X.copy(), "X"), (Y.copy(), "Y")):
        bad[7, 2] = np.nan if name == "X" else np.inf
        args = (bad, Y) if name == "X" else (X, bad)
        with pytest.raises(InputError) as fast:
            rep.linear_cka(*args, precision="float32")
        with pytest.raises(InputError) as exact:
            rep.linear_cka(*args)
        assert str(fast.value) == str(exact.value)
        assert str(fast.value).startswith(f"{name} contains 1 ")
    with pytest.raises(InputError, match="^X: its products overflow float32"):
        rep.linear_cka(X * np.float32(1e37), Y, precision="float32")


def test_float32_workspaces_are_reused_across_shapes_without_mixing_values():
    """Calls of different shapes in turn (the kept workspaces grow and are sliced) give the
    values of fresh calls, and a failed call hands its workspaces back."""
    rng = np.random.default_rng(13)
    shapes = [(300, 20, 10), (50, 3, 4), (800, 40, 30), (300, 20, 10)]
    data = [(rng.standard_normal((n, p)).astype(np.float32) + 100,
             rng.standard_normal((n, q)).astype(np.float32)) for n, p, q in shapes]
    expected = [rep.linear_cka(X, Y) for X, Y in data]
    for _ in range(2):
        for (X, Y), value in zip(data, expected):
            assert rep.linear_cka(X, Y, precision="float32") == pytest.approx(value, abs=1e-6)
        with pytest.raises(InputError):
            rep.linear_cka(data[0][0] * np.float32(1e35), data[0][1], precision="float32")
