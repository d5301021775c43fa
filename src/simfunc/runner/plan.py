"""Jobs and plans: what to compute, described as data so any process (or a Ray worker) can run it.

A :class:`Job` names its function as a ``"package.module:function"`` string that is imported in
whichever process runs it, and carries a JSON-able configuration, so jobs pickle cheaply and
identically everywhere. A :class:`Plan` is an ordered collection of jobs; it checks that ids
are unique, that dependencies exist and that there are no cycles, and it gives every job its
cache key.

The cache key of a job is ``config_hash(fn, config, inputs)`` where ``inputs`` maps each
dependency's id to that dependency's key. A job therefore gets a new key whenever anything
upstream of it changes (retraining a model with more epochs invalidates the features extracted
from it, even though the extraction job's own configuration did not change). A job without
dependencies has the key ``config_hash(fn, config)``.
"""

from __future__ import annotations

import heapq
import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simfunc.errors import InputError
from simfunc.store.cache import Cache, check_name
from simfunc.io.hashing import config_hash, normalize_config

__all__ = ["Job", "Plan", "resolve_callable"]

_CALLABLE_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _check_callable_path(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _CALLABLE_PATTERN.match(value):
        raise InputError(f"{name} must be a 'package.module:function' string, got {value!r}")
    return value


def resolve_callable(path: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` and return the function."""
    _check_callable_path(path, "path")
    module_name, _, attribute_path = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise InputError(f"{path!r}: module {module_name!r} cannot be imported ({error})") from None
    for attribute in attribute_path.split("."):
        try:
            target = getattr(target, attribute)
        except AttributeError:
            raise InputError(
                f"{path!r}: {module_name!r} has no attribute {attribute_path!r}"
            ) from None
    if not callable(target):
        raise InputError(f"{path!r} is a {type(target).__name__}, not a function")
    return target


@dataclass(frozen=True)
class Job:
    """One unit of work whose output is one cache entry.

    Attributes
    ----------
    id:
        Unique, human-readable id, e.g. ``"train/resnet18-cifar10-s0"``.
    fn:
        ``"package.module:function"``; the function takes a :class:`JobContext` and writes its
        files into ``ctx.output_dir``.
    config:
        JSON-able mapping handed to the function as ``ctx.config``; with ``fn`` and the keys of
        the dependencies it forms the cache key. Stored as plain JSON types (tuples -> lists).
    deps:
        Ids of the jobs whose outputs this job reads (``ctx.input(dep_id)``).
    namespace:
        Cache namespace (a directory under the cache root). Defaults to the part of ``id``
        before the first ``/``.
    record:
        Optional ``"module:function"`` called in the driver, as ``record(entry_path, db, job)``,
        after the job is done (run now or found in the cache) when the run has a database. It is
        how results reach the database; the driver is its only writer.
    resources:
        What the job needs, e.g. ``{"cpus": 1, "gpus": 0}``; executors use ``cpus`` to limit the
        job's threads, a Ray executor passes them on as Ray resources.
    label:
        Short text for progress display (defaults to ``id``).
    meta:
        JSON-able mapping for the ``record`` function (model names, roles, test-set labels):
        what a study calls things, as opposed to what is computed. It is *not* part of the cache
        key, so two studies that name the same computation differently share its entry.
    """

    id: str
    fn: str
    config: Mapping[str, Any] = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    namespace: str = ""
    record: str | None = None
    resources: Mapping[str, float] = field(default_factory=lambda: {"cpus": 1, "gpus": 0})
    label: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip() or self.id != self.id.strip():
            raise InputError(
                f"job id must be a non-empty string without edge spaces, got {self.id!r}"
            )
        _check_callable_path(self.fn, f"job {self.id!r}: fn")
        if not isinstance(self.config, Mapping):
            raise InputError(
                f"job {self.id!r}: config must be a mapping, got {type(self.config).__name__}"
            )
        object.__setattr__(
            self, "config", normalize_config(self.config, f"job {self.id!r}: config")
        )
        if isinstance(self.deps, str) or not isinstance(self.deps, Iterable):
            raise InputError(
                f"job {self.id!r}: deps must be a list or tuple of job ids, got {self.deps!r}"
            )
        deps = tuple(self.deps)
        for dep in deps:
            if not isinstance(dep, str) or not dep:
                raise InputError(f"job {self.id!r}: deps holds {dep!r}, not a job id")
        if len(set(deps)) != len(deps):
            raise InputError(f"job {self.id!r}: deps lists a job twice: {list(deps)}")
        object.__setattr__(self, "deps", deps)
        namespace = self.namespace or (self.id.split("/", 1)[0] if "/" in self.id else "")
        if not namespace:
            raise InputError(
                f"job {self.id!r}: give a namespace, or an id of the form 'namespace/name'"
            )
        object.__setattr__(self, "namespace", check_name(namespace, f"job {self.id!r}: namespace"))
        if self.record is not None:
            _check_callable_path(self.record, f"job {self.id!r}: record")
        if not isinstance(self.resources, Mapping):
            raise InputError(f"job {self.id!r}: resources must be a mapping like {{'cpus': 1}}")
        resources = {"cpus": 1, "gpus": 0, **self.resources}
        for name, amount in resources.items():
            if (
                isinstance(amount, bool)
                or not isinstance(amount, (int, float))
                or not (0 <= amount < float("inf"))
            ):
                raise InputError(
                    f"job {self.id!r}: resources[{name!r}] must be a non-negative number, "
                    f"got {amount!r}"
                )
        if resources["cpus"] < 1:
            raise InputError(f"job {self.id!r}: resources['cpus'] must be at least 1")
        object.__setattr__(self, "resources", resources)
        if not isinstance(self.label, str):
            raise InputError(f"job {self.id!r}: label must be a string")
        object.__setattr__(self, "label", self.label or self.id)
        if not isinstance(self.meta, Mapping):
            raise InputError(f"job {self.id!r}: meta must be a mapping")
        object.__setattr__(self, "meta", normalize_config(self.meta, f"job {self.id!r}: meta"))


class Plan:
    """An ordered, validated collection of jobs.

    Iterating a plan yields its jobs in a dependency (topological) order that keeps the order
    in which they were given wherever the dependencies allow it.
    """

    def __init__(self, jobs: Iterable[Job]) -> None:
        jobs = list(jobs)
        for position, job in enumerate(jobs):
            if not isinstance(job, Job):
                raise InputError(f"jobs[{position}] is a {type(job).__name__}, not a Job")
        by_id: dict[str, Job] = {}
        duplicates = []
        for job in jobs:
            if job.id in by_id:
                duplicates.append(job.id)
            by_id[job.id] = job
        if duplicates:
            raise InputError(
                f"job ids must be unique; repeated: {', '.join(sorted(set(duplicates)))}"
            )
        missing = [
            f"{job.id!r} needs {dep!r}" for job in jobs for dep in job.deps if dep not in by_id
        ]
        if missing:
            raise InputError(f"unknown dependencies: {'; '.join(missing)}")
        self._jobs = by_id
        self._order = self._topological_order(jobs)
        self._dependents: dict[str, list[str]] = {job_id: [] for job_id in self._order}
        for job_id in self._order:
            for dep in by_id[job_id].deps:
                self._dependents[dep].append(job_id)
        self._keys: dict[str, str] = {}
        for job_id in self._order:
            job = by_id[job_id]
            inputs = {dep: self._keys[dep] for dep in job.deps}
            self._keys[job_id] = config_hash(job.fn, job.config, inputs)

    @staticmethod
    def _topological_order(jobs: list[Job]) -> tuple[str, ...]:
        position = {job.id: index for index, job in enumerate(jobs)}
        remaining = {job.id: len(job.deps) for job in jobs}
        dependents: dict[str, list[str]] = {job.id: [] for job in jobs}
        for job in jobs:
            for dep in job.deps:
                dependents[dep].append(job.id)
        ready = [(position[job_id], job_id) for job_id, count in remaining.items() if count == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, job_id = heapq.heappop(ready)
            order.append(job_id)
            for dependent in dependents[job_id]:
                remaining[dependent] -= 1
                if remaining[dependent] == 0:
                    heapq.heappush(ready, (position[dependent], dependent))
        if len(order) < len(jobs):
            raise InputError(
                f"the plan has a dependency cycle: {Plan._find_cycle(jobs, set(order))}"
            )
        return tuple(order)

    @staticmethod
    def _find_cycle(jobs: list[Job], ordered: set[str]) -> str:
        deps = {job.id: [dep for dep in job.deps if dep not in ordered] for job in jobs}
        start = next(job.id for job in jobs if job.id not in ordered)
        path, seen = [start], {start: 0}
        while True:  # every unordered job has an unordered dependency, so this ends on a repeat
            nxt = deps[path[-1]][0]
            if nxt in seen:
                cycle = [*path[seen[nxt] :], nxt]
                return " needs ".join(repr(job_id) for job_id in cycle)
            seen[nxt] = len(path)
            path.append(nxt)

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[Job]:
        return (self._jobs[job_id] for job_id in self._order)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def __getitem__(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise InputError(f"job {job_id!r} is not in the plan") from None

    def __repr__(self) -> str:
        return f"Plan({len(self)} jobs)"

    @property
    def order(self) -> tuple[str, ...]:
        """Job ids in dependency order."""
        return self._order

    def key(self, job_id: str) -> str:
        """The cache key of a job (depends on its fn, config and its dependencies' keys)."""
        self[job_id]
        return self._keys[job_id]

    def dependents(self, job_id: str) -> list[str]:
        """Ids of the jobs that list ``job_id`` among their deps."""
        self[job_id]
        return list(self._dependents[job_id])

    def entry_path(self, cache: Cache, job_id: str) -> Path:
        """Where the job's committed entry lives in ``cache`` (whether or not it exists yet)."""
        return cache.entry_path(self[job_id].namespace, self.key(job_id))
