"""Shared test settings: a hypothesis profile that keeps property tests quick and reproducible,
and what lets the suite run in parallel (``python -m pytest -n 2``, pytest-xdist).

Parallel safety: every test writes under its own ``tmp_path`` (or a module fixture's
``tmp_path_factory`` folder), Ray instances get private session folders, hypothesis keeps no
example database (``derandomize`` makes it useless, and workers would share it), and the
suite runs with ``--dist loadfile`` (pyproject.toml), so a module's tests, and the networks
its module-scoped fixtures train, stay on one worker and are trained once.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "simfunc",
    max_examples=int(os.environ.get("SIMFUNC_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    derandomize=True,
    database=None,
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

