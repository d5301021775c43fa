"""Shared test settings: a hypothesis profile that keeps property tests quick and reproducible,
and what lets the suite run in parallel (``python -m pytest -n 2``, pytest-xdist).

Parallel safety: every test writes under its own ``tmp_path`` (or a module fixture's
``tmp_path_factory`` folder), Ray instances get private session folders, hypothesis keeps no
example database (``derandomize`` makes it useless, and workers would share it), and the
suite runs with ``--dist loadfile`` (pyproject.toml), so a module's tests, and the networks
its module-scoped fixtures train, stay on one worker. Artifacts that several modules need come
from :func:`shared_artifact_cache`, one artifact cache for the whole session that every
worker uses (the cache's own locks make that safe): a job two modules share is computed once.
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


@pytest.fixture(scope="session")
def shared_artifact_cache(tmp_path_factory):
    """One artifact cache (a ``simfunc.store.Cache`` root) for the whole test session, shared by
    the xdist workers: networks and agents that several modules train with the same settings
    are trained once. Tests that count "run" against "cached" jobs need a cache of their own."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, above each worker's own
    root = base / "simfunc-artifact-cache"
    root.mkdir(parents=True, exist_ok=True)
    return root
