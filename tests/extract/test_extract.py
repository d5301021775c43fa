"""simfunc.extract.activations: forward hooks on any module, by dotted name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from simfunc import InputError
from simfunc.data import load
from simfunc.extract import activations, layer_names, outputs
from simfunc.nets import build


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
        )  # fmt: skip
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.blocks(x))


class UserNet(nn.Module):
    """A user's own nested model: a Sequential inside a custom module inside a custom module."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Sequential(nn.Flatten(1), nn.Linear(6 * 8 * 8, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class SharedNet(nn.Module):
    """Applies the same linear layer twice."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(4, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.shared(torch.relu(self.shared(x))))


def user_net() -> UserNet:
    torch.manual_seed(0)
    return UserNet()


def test_dotted_names_in_a_user_model_give_the_submodule_outputs():
    model = user_net()
    x = torch.randn(37, 1, 8, 8)
    acts = activations(model, x, ["encoder.blocks.2", "encoder.blocks", "head"], batch_size=10)
    assert list(acts) == ["encoder.blocks.2", "encoder.blocks", "head"]
    model.eval()
    with torch.no_grad():
        first = model.encoder.blocks[:3](x)
        block = model.encoder.blocks(x)
        logits = model(x)
    assert acts["encoder.blocks.2"].shape == (37, 4 * 8 * 8)
    assert acts["encoder.blocks"].shape == (37, 6 * 8 * 8)
    assert acts["head"].shape == (37, 5)
    assert all(a.dtype == np.float32 for a in acts.values())
    np.testing.assert_allclose(
        acts["encoder.blocks.2"], first.reshape(37, -1).numpy(), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        acts["encoder.blocks"], block.reshape(37, -1).numpy(), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(acts["head"], logits.numpy(), rtol=1e-6, atol=1e-6)


def test_unflattened_shapes_and_dtype():
    model = user_net()
    x = np.random.default_rng(0).normal(size=(9, 1, 8, 8))  # float64 numpy: cast to float32
    acts = activations(model, x, "encoder.blocks", flatten=False, dtype=np.float64)
    assert acts["encoder.blocks"].shape == (9, 6, 8, 8)
    assert acts["encoder.blocks"].dtype == np.float64


def test_eval_mode_is_used_and_every_mode_restored():
    model = user_net()
    model.train()
    model.encoder.blocks[1].eval()  # a mixed state must come back as it was
    before = {name: module.training for name, module in model.named_modules()}
    x = torch.randn(8, 1, 8, 8)
    first = activations(model, x, ["head"])["head"]
    second = activations(model, x, ["head"])["head"]
    np.testing.assert_array_equal(first, second)  # dropout off: eval mode
    assert {name: module.training for name, module in model.named_modules()} == before
    # Batch norm ran on its running statistics and did not update them.
    assert torch.equal(model.encoder.blocks[1].running_mean, torch.zeros(4))


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_hooks_are_removed_even_after_an_error():
    model = user_net()
    activations(model, torch.randn(3, 1, 8, 8), ["head", "encoder"])
    assert hook_count(model) == 0
    with pytest.raises(RuntimeError):  # wrong input shape: the forward pass fails
        activations(model, torch.randn(3, 2, 8, 8), ["head"])
    assert hook_count(model) == 0
    assert model.training  # mode restored too


def test_a_missing_layer_lists_the_available_names_closest_first():
    model = user_net()
    with pytest.raises(InputError) as error:
        activations(model, torch.randn(2, 1, 8, 8), ["encoder.block"])
    message = str(error.value)
    assert "'encoder.block'" in message and "Did you mean 'encoder.blocks'" in message
    listed = message.split("Available: ")[1]
    assert listed.startswith("encoder.blocks")
    for name in ("encoder.dropout", "head.1", "encoder.blocks.4"):
        assert name in listed
    assert layer_names(model)[0] == "encoder"


def test_a_module_that_runs_twice_is_refused():
    model = SharedNet()
    with pytest.raises(InputError, match="'shared' ran 2 times"):
        activations(model, torch.randn(4, 4), ["shared"])
    assert hook_count(model) == 0
    assert activations(model, torch.randn(4, 4), ["out"])["out"].shape == (4, 2)


def test_a_module_that_does_not_run_is_refused():
    model = user_net()
    model.unused = nn.Linear(2, 2)
    with pytest.raises(InputError, match="'unused' did not run"):
        activations(model, torch.randn(2, 1, 8, 8), ["unused"])


class XYDataset(Dataset):
    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], i % 3


class XOnlyDataset(XYDataset):
    def __getitem__(self, i: int):
        return self.x[i]


def test_every_kind_of_data_gives_the_same_rows():
    model = user_net()
    x = torch.randn(23, 1, 8, 8)
    expected = activations(model, x, ["head"], batch_size=7)["head"]
    sources = {
        "numpy": x.numpy(),
        "dataset (x, y)": XYDataset(x),
        "dataset x": XOnlyDataset(x),
        "tensor dataset": TensorDataset(x, torch.zeros(23)),
        "dataloader": DataLoader(TensorDataset(x), batch_size=5, shuffle=False),
    }
    for name, data in sources.items():
        got = activations(model, data, ["head"], batch_size=7)["head"]
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6, err_msg=name)


def test_image_dataset_with_a_simfunc_network():
    data = load("digits", "test", image_size=8, channels=1, subset=50).with_augment(True)
    model = build("cnn", 10, in_channels=1, input_size=8, seed=0)
    acts = activations(model, data, ("last_conv", "features", "logits"), batch_size=16)
    assert acts["last_conv"].shape == (50, 128 * 2 * 2)
    assert acts["features"].shape == (50, 128)
    np.testing.assert_allclose(outputs(model, data), acts["logits"], rtol=1e-5, atol=1e-6)
    model.eval()
    with torch.no_grad():  # never augmented: the plain normalised images
        logits = model(data.normalized())
    np.testing.assert_allclose(acts["logits"], logits.numpy(), rtol=1e-5, atol=1e-5)
    # features is the pooled last_conv map.
    pooled = acts["last_conv"].reshape(50, 128, 4).mean(2)
    np.testing.assert_allclose(acts["features"], pooled, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layers": []}, "layers"),
        ({"layers": ["head", "head"]}, "twice"),
        ({"layers": [3]}, "strings"),
        ({"batch_size": 0}, "batch_size"),
        ({"flatten": "yes"}, "flatten"),
        ({"dtype": np.int32}, "floating"),
        ({"device": "nowhere"}, "device"),
    ],
)
def test_bad_arguments(kwargs, message):
    arguments = {"layers": ["head"], **kwargs}
    with pytest.raises(InputError, match=message):
        activations(user_net(), torch.randn(2, 1, 8, 8), **arguments)


def test_bad_data():
    with pytest.raises(InputError, match="expected an ImageDataset"):
        activations(user_net(), [[1.0, 2.0]], ["head"])
    with pytest.raises(InputError, match="shape"):
        activations(user_net(), np.zeros((0, 1, 8, 8)), ["head"])
    with pytest.raises(InputError, match="nn.Module"):
        activations(lambda x: x, torch.zeros(2, 2), ["head"])
