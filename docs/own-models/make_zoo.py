"""Train the example zoo of docs/own-models: five small classifiers of scikit-learn's digits.

Writes, beside this file: inputs.npy / labels.npy (400 held-out digits, 1x8x8, scaled to
[0, 1]), three TorchScript files (mlp-a.ts, mlp-b.ts scripted; cnn-a.ts traced), and two state
dicts for the factories in zoo_nets.py (cnn-b.pt, mlp-short.pt: an MLP trained 3 epochs).
Then: simfunc study docs/own-models/zoo.toml
"""

from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from zoo_nets import CNN, MLP

HERE = Path(__file__).resolve().parent


def train(net: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), 64):
            rows = order[start:start + 64]
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(net(X[rows]), y[rows]).backward()
            optimiser.step()
    return net.eval()


def main() -> None:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    order = np.random.default_rng(0).permutation(len(images))
    test, fit = order[:400], order[400:]
    np.save(HERE / "inputs.npy", images[test])
    np.save(HERE / "labels.npy", digits.target[test].astype(np.int64))
    X, y = torch.from_numpy(images[fit]), torch.from_numpy(digits.target[fit])
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(train(MLP(), X, y, 20, 0)), str(HERE / "mlp-a.ts"))
    torch.manual_seed(1)
    torch.jit.save(torch.jit.script(train(MLP(), X, y, 20, 1)), str(HERE / "mlp-b.ts"))
    torch.manual_seed(2)
    torch.jit.save(torch.jit.trace(train(CNN(), X, y, 20, 2), X[:2]), str(HERE / "cnn-a.ts"))
    torch.manual_seed(3)
    torch.save(train(CNN(), X, y, 20, 3).state_dict(), HERE / "cnn-b.pt")
    torch.manual_seed(4)
    torch.save(train(MLP(), X, y, 3, 4).state_dict(), HERE / "mlp-short.pt")


if __name__ == "__main__":
    main()
