"""Shared test settings: a hypothesis profile that keeps property tests quick and reproducible."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "simfunc",
    max_examples=int(os.environ.get("SIMFUNC_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("simfunc")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module that trains or runs networks: on a shared 2-core machine a
    second OpenMP thread that has to wait for a busy core makes small networks 20-80x slower
    (see benchmarks/train.py). Use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
