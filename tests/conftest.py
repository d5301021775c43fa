"""Shared test settings: a hypothesis profile that keeps property tests quick and reproducible,
and what lets the suite run in parallel (``python -m pytest -n 2``, pytest-xdist).

Parallel safety: every test writes under its own ``tmp_path`` (or a module fixture's
``tmp_path_factory`` folder), Ray instances get private session folders, hypothesis keeps no
example database (``derandomize`` makes it useless, and workers would share it), and the
suite runs with ``--dist loadfile`` (pyproject.toml), so a module's tests, and the networks
its module-scoped fixtures train, stay on one worker and are trained once.

The study runs of ``tests/studies/`` run their jobs in the test process (``jobs=1``): the
suite's two workers already keep both cores busy, and a pool of job processes would import
torch, the studies and torch's compiler stack again for every module (about 5 CPU-s a process).
The MiniGrid quick run keeps two job processes: it is the longest module, and its run would
otherwise outlast everything the other worker does.

Scheduling: xdist hands a worker one module at a time, by default the modules with the most
tests first, which put the longest ones (a study run behind a handful of tests) last, one worker
busy with them while the other idled. ``--no-loadscope-reorder`` (pyproject.toml) keeps the
collection order instead, and :data:`LONGEST_FIRST` puts the long modules at its front, so
the short ones fill in around them.

Shared across modules: the study runs of ``tests/studies/`` keep their artifacts in one cache
for the whole session, and for every xdist worker of it (``study_cache``), keyed by job
configuration like the real cache, so a network two studies train alike (dataset-bias and
cross-dataset train the same four digits networks on the quick profile) is trained once. The
cache's per-key file locks make it safe for two workers to ask for the same job at once: one
computes it, the other waits and then reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

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

# The longest modules, longest first (setup and calls in seconds, full runs on 2 cores with
# -n 2: BENCHMARKS.md "The test suite"); every other module follows in collection order, so the
# short ones fill in at the end, around the long ones.
LONGEST_FIRST = (
    "tests/studies/test_minigrid_quick.py",  # 24 PPO agents in two job processes (155-230 s)
    "tests/studies/test_checkpoints.py",  # 12 networks, 132 checkpoints (65-130 s)
    "tests/runner/test_ray_executor.py",  # Ray instances (58-86 s; 182 s when it started
    #   beside the MiniGrid run's two job processes, as the second module)
    "tests/studies/test_architectures.py",  # 20 networks (39-70 s)
    "tests/studies/test_cross_dataset.py",  # 8 networks (17-40 s)
    "tests/studies/test_dataset_bias.py",  # 8 networks, 4 shared with cross-dataset (17-39 s)
    "tests/study/test_own_study.py",  # a Ray instance (27-36 s)
    "tests/train/test_supervised.py",  # a killed and resumed training run (17-31 s)
    "tests/studies/test_e2e.py",  # (21-28 s)
    "tests/train/test_ppo.py",  # a killed and resumed PPO run (22-31 s)
    "tests/studies/test_minigrid_factor_jobs.py",  # 18 PPO agents (19-26 s)
)


def pytest_collection_modifyitems(config, items):
    """Put the modules of :data:`LONGEST_FIRST` first, in its order (a stable sort keeps the
    order of the tests within each module and of every other module)."""
    root = Path(config.rootpath)
    missing = [path for path in LONGEST_FIRST if not (root / path).is_file()]
    if missing:
        raise pytest.UsageError(f"conftest.LONGEST_FIRST names missing modules: {missing}")
    rank = {path: position for position, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


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
def study_cache(tmp_path_factory) -> Path:
    """The artifact cache shared by every study run of the session. Under pytest-xdist each
    worker has its own base temporary folder, so the cache sits in their common parent (made
    for this run); without xdist, in the base temporary folder itself."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    cache = base / "study-cache"
    cache.mkdir(exist_ok=True)
    return cache


@pytest.fixture(scope="module")
def study_root(tmp_path_factory, study_cache, request) -> Path:
    """A module's folder for its study run: its own ``runs/`` go here, and ``cache/`` is the
    session's shared ``study_cache`` (a symbolic link), so jobs another module's run already
    computed are read from there instead of being computed again."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    (root / "cache").symlink_to(study_cache, target_is_directory=True)
    return root
