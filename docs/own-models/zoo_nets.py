"""The architectures of the example zoo (docs/own-models): what a user's package would hold."""

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(),
                                     nn.Linear(hidden, 32), nn.ReLU())
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class CNN(nn.Module):
    def __init__(self, channels: int = 8):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(channels, 16, 3, stride=2, padding=1), nn.ReLU(),
                                     nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def mlp() -> MLP:
    return MLP()


def cnn() -> CNN:
    return CNN()
