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

**Logs.** When the output is not a terminal (a file, a pipe, a CI log, a cluster job's output),
redrawn bars would be thousands of ``\r`` redraws. Every bar is then a :class:`LineProgress`
instead: it writes plain lines, each complete and ending in a newline, with the counts and the
elapsed time, at most one every :data:`LINE_INTERVAL` seconds per bar (a final line when a bar
that lived that long closes; a short bar stays silent). The runner adds one line per finished
job (:meth:`LineProgress.line`). ``SIMFUNC_PROGRESS=bars`` or ``=lines`` overrides the choice
(inherited by worker processes); a Ray task is told the driver's choice by its executor.
``progress=False`` (``--no-progress``) still silences both kinds.

This module sits at the bottom of the layers (no simfunc imports): the training code below the
runner uses it too.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "progress_bar",
    "place_bars",
    "bar_placement",
    "bar_style",
    "ScreenLock",
    "LineProgress",
    "LINE_INTERVAL",
    "STYLE_VARIABLE",
]

# The environment variable that forces the style of every bar: "bars" or "lines".
STYLE_VARIABLE = "SIMFUNC_PROGRESS"
# Seconds between two progress lines of one bar when the output is not a terminal.
LINE_INTERVAL = 5.0

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
        ``"tqdm"`` (this process writes to the screen or log itself; bars or lines by
        :func:`bar_style`), ``"ray"`` (a Ray task: the driver draws) or ``"lines"`` (plain
        lines whatever the output, e.g. a Ray task whose driver writes to a log).
    """
    if backend not in ("tqdm", "ray", "lines"):
        raise ValueError(f"backend must be 'tqdm', 'ray' or 'lines', got {backend!r}")
    if lock is not None:
        from tqdm.auto import tqdm

        tqdm.set_lock(lock)
    _placement.update(position=position, backend=backend)


def bar_placement() -> dict[str, Any]:
    """This process's placement (a copy): ``position`` and ``backend``."""
    return dict(_placement)


def bar_style(stream: Any = None) -> str:
    """``"bars"`` when ``stream`` (default ``sys.stderr``, where bars go) is a terminal, else
    ``"lines"``; ``SIMFUNC_PROGRESS=bars`` or ``=lines`` in the environment decides instead."""
    forced = os.environ.get(STYLE_VARIABLE, "").strip().lower()
    if forced in ("bars", "lines"):
        return forced
    stream = sys.stderr if stream is None else stream
    try:
        return "bars" if stream.isatty() else "lines"
    except (AttributeError, ValueError, OSError):  # closed or not a real stream
        return "lines"


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
    plan's bar with Ray's manager when the jobs are Ray tasks). Where the output is not a
    terminal, a :class:`LineProgress` with the same interface.
    """
    placed = _placement["backend"]
    if placed == "lines" or (placed != "ray" and bar_style(options.get("file")) == "lines"):
        return LineProgress(iterable, total=total, desc=desc, unit=unit, initial=initial,
                            disable=disable, leave=leave, file=options.get("file"))
    backend = backend or placed
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


class LineProgress:
    """A progress bar for logs: plain lines, never a ``\\r`` redraw (see the module docstring).

    The tqdm interface simfunc uses (``update``, ``set_postfix``, ``set_description``, ``n``,
    ``total``, iteration, ``with``, ``close``). A line reads
    ``desc: n/total unit (pct%) [postfix], elapsed`` and is written, whole, in one call, so
    lines of several processes sharing one output never interleave within a line.

    Parameters
    ----------
    interval:
        Seconds between two progress lines (:data:`LINE_INTERVAL`); a bar closed after living
        at least that long writes a final line, a shorter one writes nothing.
    leave:
        Accepted for tqdm's sake; a long bar's final line is written either way.
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *,
        total: int | None = None,
        desc: str | None = None,
        unit: str = "it",
        initial: int = 0,
        disable: bool = False,
        leave: bool = False,
        file: Any = None,
        interval: float = LINE_INTERVAL,
    ) -> None:
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self.iterable = iterable
        self.total = total
        self.desc = desc or ""
        self.unit = unit
        self.n = initial
        self.disable = disable
        self.leave = leave
        self.interval = interval
        self.postfix = ""
        self._file = file
        self._started = time.monotonic()
        self._last_line = self._started
        self._closed = False

    # -- what a line says ----------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        """Seconds since the bar was made."""
        return time.monotonic() - self._started

    def format_counts(self) -> str:
        """``n/total unit (pct%)``, or ``n unit`` without a total."""
        if self.total:
            return f"{self.n}/{self.total} {self.unit} ({100.0 * self.n / self.total:.0f}%)"
        return f"{self.n} {self.unit}"

    def status_line(self, now: float | None = None) -> str:
        """The bar's state as one line (without the newline)."""
        elapsed = (time.monotonic() if now is None else now) - self._started
        text = f"{self.desc}: {self.format_counts()}" if self.desc else self.format_counts()
        if self.postfix:
            text += f" [{self.postfix}]"
        return f"{text}, {_duration(elapsed)}"

    def line(self, text: str, now: float | None = None) -> None:
        """Write ``text`` as one line now (unless disabled); the next progress line comes
        ``interval`` seconds later at the earliest."""
        if self.disable:
            return
        stream = self._file if self._file is not None else sys.stderr
        try:
            stream.write(text + "\n")
            stream.flush()
        except (ValueError, OSError):  # the output was closed under us: progress is optional
            return
        self._last_line = time.monotonic() if now is None else now

    def advance(self, n: int, text: str) -> None:
        """Count ``n`` more and write ``text`` as the line for it (instead of the state)."""
        self.n += n
        self.line(text)

    def refresh(self) -> None:
        """Write the current state as a line now."""
        now = time.monotonic()
        self.line(self.status_line(now), now)

    def _maybe_line(self) -> None:
        if self.disable:
            return
        now = time.monotonic()
        if now - self._last_line >= self.interval:
            self.line(self.status_line(now), now)

    # -- tqdm's interface, the part simfunc uses -----------------------------------------------

    def update(self, n: int = 1) -> None:
        self.n += n
        self._maybe_line()

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    set_description_str = set_description

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **values: Any) -> None:
        items = dict(ordered_dict or {}, **values)
        self.postfix = ", ".join(f"{key}={value}" for key, value in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = str(s)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        now = time.monotonic()
        if not self.disable and now - self._started >= self.interval:
            self.line(self.status_line(now), now)

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise ValueError("this bar was made without an iterable")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _duration(seconds: float) -> str:
    """``12.3 s`` below a minute, ``4 min 05 s`` below an hour, ``1 h 02 min`` above."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
