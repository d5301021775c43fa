"""Progress bars that show wherever a job runs: in this process, a worker process, a Ray task.

Every bar in simfunc (a training epoch, a PPO run, a comparison, the plan itself) is made by
:func:`progress_bar`, which returns a tqdm bar or something that quacks like one (``update``,
``set_postfix``, ``set_description``, ``close``, iteration, ``with``). Where it draws depends on
where the code runs, and the executors set that up once per worker with :func:`place_bars`:

* in the driver (``--jobs 1``): a plain tqdm bar below the plan's bar;
* in a worker process (``--jobs N``): a tqdm bar on the worker's own line below the plan's bar
  (``position``), written under a lock shared with the driver, so N workers draw N lines and
  do not overwrite each other (tqdm's documented multiprocessing pattern);
* in a Ray task (``--executor ray``): Ray's distributed tqdm
  (:mod:`ray.experimental.tqdm_ray`), whose state the task prints and the driver's log monitor
  draws; the plan's bar is then drawn by the same manager, so every line has its own place.

This module sits at the bottom of the layers (no simfunc imports): the training code below the
runner uses it too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["progress_bar", "place_bars", "bar_placement", "ScreenLock"]

_placement: dict[str, Any] = {"position": None, "backend": "tqdm"}


class ScreenLock:
    """tqdm's write lock across processes that can never freeze the bars.

    Wraps a multiprocessing ``RLock`` shared by the driver and its workers. A worker killed while
    drawing (out of memory, SIGKILL) would leave a plain lock held forever and every bar of every
    process waiting on it; this one waits at most ``timeout`` seconds and then draws anyway (at
    worst one garbled line). Picklable to a process being started.
    """

    def __init__(self, lock: Any, timeout: float = 1.0) -> None:
        self._lock = lock
        self._timeout = timeout
        self._acquired = threading.local()  # per thread: a stack, did each acquire succeed

    def _stack(self) -> list[bool]:
        if not hasattr(self._acquired, "stack"):
            self._acquired.stack = []
        return self._acquired.stack

    def acquire(self, *args: Any, **kwargs: Any) -> bool:
        got = bool(self._lock.acquire(timeout=self._timeout))
        self._stack().append(got)
        return True

    def release(self) -> None:
        stack = self._stack()
        if stack and stack.pop():
            self._lock.release()

    def __enter__(self) -> ScreenLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __getstate__(self) -> dict[str, Any]:
        return {"lock": self._lock, "timeout": self._timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["lock"], state["timeout"])


def place_bars(position: int | None = None, lock: Any = None, backend: str = "tqdm") -> None:
    """Where this process's bars go (called once in each worker by its executor).

    Parameters
    ----------
    position:
        The screen line (0 = the plan's bar) of every bar this process makes, unless a bar asks
        for another.
    lock:
        A :class:`ScreenLock` shared with the driver, taken by tqdm around every write.
    backend:
        ``"tqdm"`` (a terminal this process writes to) or ``"ray"`` (a Ray task: the driver
        draws).
    """
    if backend not in ("tqdm", "ray"):
        raise ValueError(f"backend must be 'tqdm' or 'ray', got {backend!r}")
    if lock is not None:
        from tqdm.auto import tqdm

        tqdm.set_lock(lock)
    _placement.update(position=position, backend=backend)


def bar_placement() -> dict[str, Any]:
    """This process's placement (a copy): ``position`` and ``backend``."""
    return dict(_placement)


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    unit: str = "it",
    initial: int = 0,
    leave: bool = False,
    disable: bool = False,
    position: int | None = None,
    backend: str | None = None,
    **options: Any,
) -> Any:
    """A progress bar placed for this process (see the module docstring).

    Takes tqdm's arguments; ``backend`` overrides the process's placement (the runner draws the
    plan's bar with Ray's manager when the jobs are Ray tasks).
    """
    backend = backend or _placement["backend"]
    if position is None:
        position = _placement["position"]
    if backend == "ray" and not disable:
        return _RayBar(iterable, total=total, desc=desc, unit=unit, initial=initial,
                       position=position)
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, leave=leave,
                disable=disable, position=position, **options)


class _RayBar:
    """Ray's distributed tqdm with the tqdm methods simfunc uses (postfix, description)."""

    def __init__(
        self,
        iterable: Iterable[Any] | None,
        *,
        total: int | None,
        desc: str | None,
        unit: str,
        initial: int,
        position: int | None,
    ) -> None:
        from ray.experimental import tqdm_ray

        self._iterable = iterable
        self._label = desc or ""
        self._postfix = ""
        self._bar = tqdm_ray.tqdm(iterable, desc=self._label, total=total, unit=unit,
                                  position=position)
        if initial:
            self._bar.n = initial

    # tqdm's interface, the part simfunc uses
    @property
    def n(self) -> int:
        return self._bar.n

    @property
    def total(self) -> int | None:
        return self._bar.total

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self._label = desc or ""
        self._show(refresh)

    set_description_str = set_description

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **values: Any) -> None:
        items = dict(ordered_dict or {}, **values)
        self._postfix = ", ".join(f"{key}={value}" for key, value in items.items())
        self._show(refresh)

    def _show(self, refresh: bool) -> None:
        text = f"{self._label} [{self._postfix}]" if self._postfix else self._label
        self._bar._desc = text  # what set_description sets, without forcing a write each time
        if refresh:
            self._bar.refresh()

    def refresh(self) -> None:
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()

    def __iter__(self) -> Iterator[Any]:
        if self._iterable is None:
            raise ValueError("this bar was made without an iterable")
        for item in self._iterable:
            yield item
            self.update(1)

    def __enter__(self) -> _RayBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
