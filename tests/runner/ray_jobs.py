"""Job functions for tests/runner/test_ray_executor.py, on top of runner_jobs.py.

Ray workers import this module by name: the Ray executor hands the driver's import
directories (``tests/runner/`` under pytest) to its workers.
"""

from __future__ import annotations

import os
from pathlib import Path

from runner_jobs import note, resumable, write_value

__all__ = ["crash_once", "crash_always", "pid_then_resumable"]


def crash_once(ctx) -> None:
    """Kill the worker process on the first attempt (a marker file remembers it), then work."""
    note(ctx.config, f"run {ctx.job_id}")
    marker = Path(ctx.config["marker"])
    if not marker.exists():
        marker.touch()
        os._exit(3)
    write_value(ctx)


def crash_always(ctx) -> None:
    """Kill the worker process on every attempt."""
    note(ctx.config, f"run {ctx.job_id}")
    os._exit(3)


def pid_then_resumable(ctx) -> None:
    """Write this worker's process id to ``config["pid"]``, then run :func:`resumable`."""
    Path(ctx.config["pid"]).write_text(str(os.getpid()))
    resumable(ctx)
