"""``simfunc.layer_map``: one pass, hooks on nested modules, TorchScript, estimators, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from simfunc import InputError, layer_map
from simfunc import representational as rep
from simfunc.extract import activations

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Block(nn.Module):
    """A residual block with a nested Sequential, like the ones users hook."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(width, width), nn.Tanh())
        self.out = nn.Linear(width, width)

    def forward(self, x):
        return torch.relu(self.out(self.inner(x)) + x)


def nested(seed: int, width: int = 12) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, width), Block(width), nn.Sequential(Block(width)),
                         nn.Linear(width, 3)).double().eval()


class PairOut(nn.Module):
    """A layer returning a tuple, as attention layers and RNNs do."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(10, 6)

    def forward(self, x):
        y = self.proj(x)
        return y, y.sum(dim=1)


class Log(nn.Module):
    def forward(self, x):
        return torch.log(x)


class WithTuple(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pair = PairOut()
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        y, _ = self.pair(x)
        return self.head(y)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((300, 3))
    return latent @ rng.standard_normal((3, 10)) + 0.3 * rng.standard_normal((300, 10))


NAMES = ["0", "1.inner", "1.inner.1", "1", "2.0.out", "3"]


def quiet(**kwargs):
    return {"progress": False, **kwargs}


def test_exact_map_on_nested_layers_equals_dense_cka_of_extracted_features(data):
    model_a, model_b = nested(0), nested(1)
    frame = layer_map(model_a, model_b, data, layers_a=NAMES, layers_b=NAMES[::-1],
                      estimator="exact", batch_size=64, **quiet())
    feats_a = activations(model_a, data, NAMES, dtype=np.float64)
    feats_b = activations(model_b, data, NAMES, dtype=np.float64)
    expected = [[rep.linear_cka(feats_a[a], feats_b[b]) for b in NAMES[::-1]] for a in NAMES]
    np.testing.assert_allclose(frame.values, expected, rtol=0, atol=1e-10)
    assert list(frame.index) == NAMES and list(frame.columns) == NAMES[::-1]
    assert frame.attrs["estimator"] == "exact" and frame.attrs["debiased"] is False
    assert frame.attrs["n_examples"] == 300 and frame.attrs["n_batches"] == 5


def test_auto_picks_exact_debiased_when_narrow_and_minibatch_when_not(data):
    model_a, model_b = nested(0), nested(1)
    exact = layer_map(model_a, model_b, data, layers_a=NAMES, layers_b=NAMES, **quiet())
    assert exact.attrs["estimator"] == "exact" and exact.attrs["debiased"] is True
    feats_a = activations(model_a, data, ["2.0.out"], dtype=np.float64)["2.0.out"]
    feats_b = activations(model_b, data, ["3"], dtype=np.float64)["3"]
    assert exact.loc["2.0.out", "3"] == pytest.approx(
        rep.linear_cka(feats_a, feats_b, debiased=True), abs=1e-10)
    minibatch = layer_map(model_a, model_b, data, layers_a=NAMES, layers_b=NAMES,
                          memory_limit=0, batch_size=300, **quiet())
    assert minibatch.attrs["estimator"] == "minibatch"
    # one batch holding every example: the minibatch estimate is the debiased CKA itself
    np.testing.assert_allclose(minibatch.values, exact.values, atol=1e-10)


@pytest.mark.parametrize("estimator", ["minibatch", "exact"])
def test_self_map_has_unit_diagonal_and_is_symmetric(data, estimator):
    model = nested(0)
    frame = layer_map(model, model, data, layers_a=NAMES, layers_b=NAMES, estimator=estimator,
                      batch_size=50, **quiet())
    np.testing.assert_allclose(np.diag(frame.values), 1.0, atol=1e-12)
    np.testing.assert_allclose(frame.values, frame.values.T, atol=1e-12)
    alone = layer_map(model, None, data, layers_a=NAMES, layers_b=NAMES, estimator=estimator,
                      batch_size=50, **quiet())  # model_b=None is a self-map
    np.testing.assert_allclose(alone.values, frame.values, atol=1e-12)


def test_layers_by_predicate_and_all_leaves(data):
    model = nested(0)
    blocks = layer_map(model, model, data, layers_a=lambda name, m: isinstance(m, Block),
                       layers_b="all", **quiet())
    assert list(blocks.index) == ["1", "2.0"]
    leaves = [name for name, m in model.named_modules() if name and not list(m.children())]
    assert list(blocks.columns) == leaves


def test_other_measures_use_memory_mapped_features_in_the_cache_and_reuse_them(data, tmp_path):
    model_a, model_b = nested(0), nested(1)
    layers = ["1", "3"]
    frame = layer_map(model_a, model_b, data, layers_a=layers, layers_b=layers, measure="cca",
                      cache_dir=tmp_path, **quiet())
    feats_a = activations(model_a, data, layers, dtype=np.float32)
    feats_b = activations(model_b, data, layers, dtype=np.float32)
    expected = [[rep.cca(feats_a[a], feats_b[b]) for b in layers] for a in layers]
    np.testing.assert_allclose(frame.values, expected, atol=1e-6)  # float32 features
    stored = list((tmp_path / "layer-features").glob("*/*.npy"))
    assert len(stored) == 4 and np.load(stored[0], mmap_mode="r").dtype == np.float32
    with pytest.warns(UserWarning, match="reused from the cache"):
        again = layer_map(model_a, model_b, data, layers_a=layers, layers_b=layers,
                          measure="cca", cache_dir=tmp_path, **quiet())
    np.testing.assert_array_equal(again.values, frame.values)


def test_torchscript_models_map_like_their_python_originals(data, tmp_path):
    model_a, model_b = nested(0), nested(1)
    path = tmp_path / "b.pt"
    torch.jit.save(torch.jit.script(model_b), str(path))
    loaded = torch.jit.load(str(path))
    python = layer_map(model_a, model_b, data, layers_a=NAMES, layers_b=NAMES, **quiet())
    script = layer_map(model_a, loaded, data, layers_a=NAMES, layers_b=NAMES, **quiet())
    np.testing.assert_allclose(script.values, python.values, atol=1e-12)
    leaf_model = nn.Sequential(nn.Linear(10, 4), nn.Identity(), nn.ReLU()).double().eval()
    traced = torch.jit.trace(leaf_model, torch.zeros(2, 10, dtype=torch.float64))
    with pytest.raises(InputError, match="'1'.*no operation"):
        layer_map(traced, traced, data, layers_a=["0", "1"], layers_b=["2"], **quiet())
    with pytest.warns(UserWarning, match="left out"):
        leaves = layer_map(traced, traced, data, **quiet())  # 'all': the Identity is left out
    assert list(leaves.index) == ["0", "2"]


def test_unknown_layer_lists_available_names(data):
    with pytest.raises(InputError, match=r"'1.iner'.*Did you mean '1.inner'.*Available"):
        layer_map(nested(0), nested(1), data, layers_a=["1.iner"], **quiet())


def test_tuple_outputs_are_rejected_clearly_or_selected(data):
    model = WithTuple().double().eval()
    with pytest.raises(InputError, match=r"'pair' returns a tuple of \(Tensor, Tensor\).*select"):
        layer_map(model, model, data, layers_a=["pair"], layers_b=["head"], **quiet())
    frame = layer_map(model, model, data, layers_a=["pair", "head"], layers_b=["pair.proj"],
                      select_a={"pair": 0}, **quiet())
    assert frame.loc["pair", "pair.proj"] == pytest.approx(1.0, abs=1e-12)


def test_shared_module_named_is_an_error_and_left_out_under_all(data):
    shared = nn.Linear(10, 10)
    model = nn.Sequential(shared, nn.Tanh(), shared).double().eval()  # one module, two calls
    with pytest.raises(InputError, match="ran 2 times"):
        layer_map(model, model, data, layers_a=["0"], layers_b=["1"], **quiet())
    with pytest.warns(UserWarning, match="left out"):
        frame = layer_map(model, model, data, **quiet())
    assert list(frame.index) == ["1"]


def test_small_data_mismatched_counts_training_mode_and_constant_layers(data):
    model_a, model_b = nested(0), nested(1)
    with pytest.warns(UserWarning, match="fewer than one batch"):
        frame = layer_map(model_a, model_b, data[:40], layers_a=NAMES, layers_b=NAMES,
                          estimator="minibatch", batch_size=64, **quiet())
    assert frame.attrs["n_batches"] == 1 and np.isfinite(frame.values).all()
    with pytest.raises(InputError, match="at least 4|needs 4"):
        layer_map(model_a, model_b, data[:3], layers_a=NAMES, layers_b=NAMES, **quiet())
    with pytest.raises(InputError, match="data has 300 examples but data_b has 299"):
        layer_map(model_a, model_b, data, data_b=data[:299], layers_a=NAMES, **quiet())
    model_b.train()
    with pytest.warns(UserWarning, match="model B was in training mode"):
        layer_map(model_a, model_b, data, layers_a=NAMES, layers_b=NAMES, **quiet())
    assert model_b.training and not model_a.training  # modes put back
    dead = nn.Sequential(nn.Linear(10, 4), nn.ReLU()).double()
    with torch.no_grad():
        dead[0].bias.fill_(-1e6)  # every ReLU unit dead: a constant layer
    for estimator in ("minibatch", "exact"):
        with pytest.raises(InputError, match=r"'1'.*(constant|same value)"):
            layer_map(dead, model_a, data, layers_a=["0", "1"], layers_b=["3"],
                      estimator=estimator, **quiet())
    nan_model = nn.Sequential(nn.Linear(10, 4), Log()).double().eval()  # log of negatives
    for estimator in ("minibatch", "exact"):
        with pytest.raises(InputError, match="'1' of model A contains NaN or infinite"):
            layer_map(nan_model, model_a, data, layers_a=["1"], layers_b=["3"],
                      estimator=estimator, **quiet())
    with pytest.raises(InputError, match="overflow"):
        layer_map(model_a, model_a, data * 1e160, layers_a=["0"], layers_b=["3"],
                  estimator="exact", **quiet())


def test_dataloaders_and_data_b_in_another_form(data):
    model_a, model_b = nested(0), nested(1)
    tensor = torch.from_numpy(data)
    loader = DataLoader(TensorDataset(tensor, torch.zeros(300)), batch_size=60)
    from_loader = layer_map(model_a, model_b, loader, layers_a=NAMES, layers_b=NAMES,
                            estimator="exact", **quiet())
    from_array = layer_map(model_a, model_b, data, layers_a=NAMES, layers_b=NAMES,
                           estimator="exact", **quiet())
    np.testing.assert_allclose(from_loader.values, from_array.values, atol=1e-10)
    both = layer_map(model_a, model_b, data, data_b=data.copy(), layers_a=NAMES,
                     layers_b=NAMES, estimator="exact", **quiet())
    np.testing.assert_allclose(both.values, from_array.values, atol=1e-12)
    short = DataLoader(TensorDataset(tensor[:240]), batch_size=60)
    with pytest.raises(InputError, match="data has 300 examples but data_b has 240"):
        layer_map(model_a, model_b, loader, data_b=short, layers_a=NAMES, layers_b=NAMES,
                  **quiet())


def test_argument_errors_name_the_argument(data):
    model = nested(0)
    for kwargs, message in (
        ({"estimator": "fast"}, "estimator must be one of"),
        ({"measure": "nope"}, "measure must be one of"),
        ({"measure": "cca", "estimator": "minibatch"}, "apply to linear CKA"),
        ({"estimator": "minibatch", "debiased": False}, "unbiased HSIC"),
        ({"batch_size": 0}, "batch_size"),
        ({"layers_a": []}, "layers_a"),
        ({"select_a": {"zzz": 0}}, "select_a"),
    ):
        with pytest.raises(InputError, match=message):
            layer_map(model, model, data, **quiet(**kwargs))
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="device 'cuda' is not available"):
            layer_map(model, model, data, device="cuda", **quiet())
    with pytest.raises(InputError, match="model_a must be"):
        layer_map("model.pt", model, data)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_map_equals_cpu_map(data):
    model_a, model_b = nested(0), nested(1)
    cpu = layer_map(model_a, model_b, data, layers_a=NAMES, layers_b=NAMES,
                    estimator="minibatch", batch_size=50, **quiet())
    gpu = layer_map(model_a, model_b, data, layers_a=NAMES, layers_b=NAMES,
                    estimator="minibatch", batch_size=50, device="cuda", **quiet())
    np.testing.assert_allclose(gpu.values, cpu.values, atol=1e-9)
    assert gpu.attrs["device"].startswith("cuda")
    assert next(model_a.parameters()).device.type == "cpu"  # moved back


def test_no_warning_for_a_clean_eval_map(data):
    model_a, model_b = nested(0).eval(), nested(1).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer_map(model_a, model_b, data, layers_a=NAMES, layers_b=NAMES, **quiet())


def test_in_place_operations_after_a_hooked_layer_do_not_change_its_features(data):
    """ReLU(inplace=True) overwrites the hooked Linear's output later in the pass: the map
    (and simfunc.extract) must see the values the Linear produced."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 8), nn.ReLU(inplace=True), nn.Linear(8, 3)).double()
    model.eval()
    pre = model[0](torch.from_numpy(data)).detach()
    extracted = activations(model, data, ["0"], dtype=np.float64)["0"]
    np.testing.assert_allclose(extracted, pre.numpy(), atol=1e-12)
    assert (extracted < 0).any()
    for estimator in ("exact", "minibatch"):
        frame = layer_map(model, model, data, layers_a=["0"], layers_b=["1"],
                          estimator=estimator, batch_size=300, **quiet())
        post = torch.relu(pre).numpy()
        expected = rep.linear_cka(pre.numpy(), post, debiased=estimator == "minibatch")
        assert frame.iloc[0, 0] == pytest.approx(expected, abs=1e-10)
        assert frame.iloc[0, 0] < 0.999


def test_one_model_with_data_b_runs_each_side_on_its_own_inputs(data):
    model = nested(0)
    same = layer_map(model, model, data, data_b=data.copy(), layers_a=NAMES, layers_b=NAMES,
                     estimator="exact", **quiet())
    np.testing.assert_allclose(np.diag(same.values), 1.0, atol=1e-12)
    scaled = layer_map(model, model, data, data_b=2.0 * data, layers_a=["0"], layers_b=["0"],
                       estimator="exact", **quiet())
    assert scaled.iloc[0, 0] == pytest.approx(1.0, abs=1e-12)  # a linear layer: CKA invariant
    other = layer_map(model, model, data, data_b=-data, layers_a=["1"], layers_b=["1"],
                      estimator="exact", **quiet())
    assert other.iloc[0, 0] < 0.99  # B really saw its own (different) inputs
