"""Job and record functions used by tests/runner/test_runner.py (and by the subprocesses it starts).

They are real job functions: they read their inputs from the cache, write files with the
atomic helpers, and note every execution in a log file named by ``config["log"]`` so the tests
can count how often each job really ran. Worker processes import this module by name; they
inherit the driver's ``sys.path``, which holds ``tests/runner/`` under pytest.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from simfunc.io import atomic_save_npz, atomic_write_json, load_json

__all__ = [
    "note",
    "events",
    "write_value",
    "fail",
    "crash",
    "resumable",
    "record_value",
    "record_fails",
    "show_progress",
    "report_sigint",
]


def note(config: dict, event: str) -> None:
    """Append one line to the event log named in the configuration."""
    with open(config["log"], "a", encoding="utf-8") as handle:
        handle.write(event + "\n")


def events(log: Path) -> list[str]:
    """The lines of an event log (empty if it does not exist yet)."""
    return Path(log).read_text(encoding="utf-8").splitlines() if Path(log).exists() else []


def write_value(ctx) -> None:
    """value = config value + the values of every input; stored as JSON and as an array."""
    note(ctx.config, f"run {ctx.job_id}")
    total = ctx.config["value"]
    for dep in ctx.job.deps:
        total += load_json(ctx.input(dep) / "value.json")["value"]
    atomic_write_json(ctx.output_dir / "value.json", {"value": total, "device": ctx.device})
    atomic_save_npz(ctx.output_dir / "array.npz", values=np.arange(6, dtype=np.float64) * total)


def fail(ctx) -> None:
    note(ctx.config, f"run {ctx.job_id}")
    raise ValueError(f"boom in {ctx.job_id}")


def crash(ctx) -> None:
    """Kill the process running the job (a worker dying of an out-of-memory kill, say)."""
    note(ctx.config, f"run {ctx.job_id}")
    os._exit(3)


def resumable(ctx) -> None:
    """A long job that checkpoints: part1 is written once, even across interruptions.

    While the file ``config["hold"]`` exists the job, after writing part1, announces itself by
    creating ``config["ready"]`` and waits (to be killed or interrupted).
    """
    note(ctx.config, f"start {ctx.job_id}")
    part1 = ctx.output_dir / "part1.npz"
    if part1.exists():
        note(ctx.config, f"resume {ctx.job_id}")
    else:
        atomic_save_npz(part1, values=np.arange(1000, dtype=np.float64))
        note(ctx.config, f"part1 {ctx.job_id}")
    hold = Path(ctx.config["hold"])
    if hold.exists():
        Path(ctx.config["ready"]).touch()
        deadline = time.monotonic() + 120
        while hold.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    values = np.load(part1, allow_pickle=False)["values"]
    atomic_write_json(ctx.output_dir / "value.json", {"value": float(values.sum())})
    note(ctx.config, f"done {ctx.job_id}")


def record_value(entry: Path, db, job) -> None:
    """Write a job's value to the database as a scalar, a model and a pair."""
    value = load_json(entry / "value.json")["value"]
    db.add_scalar("runner-test", job.id, value, extra={"artifact": entry.name})
    db.add_model(
        job.id, kind="toy", seed=0, artifact=f"{job.namespace}/{entry.name}", config=job.config
    )
    db.add_pairs(
        [
            {
                "model_a": job.id,
                "model_b": "reference",
                "test_set": "toy",
                "layer": "output",
                "measure": "value",
                "value": value,
            }
        ]
    )
    note(job.config, f"record {job.id}")


def record_fails(entry: Path, db, job) -> None:
    raise RuntimeError(f"cannot record {job.id}")


def show_progress(ctx) -> None:
    """Draw a progress bar and write where it went (process, line, backend) to its output."""
    from simfunc.progress import bar_placement

    with ctx.progress(total=3, desc=ctx.job.id) as bar:
        for _ in range(3):
            time.sleep(0.05)
            bar.update(1)
        drawn = not getattr(bar, "disable", False)
    atomic_write_json(
        ctx.output_dir / "placement.json",
        {"pid": os.getpid(), "drawn": drawn, "shown": bar.n == 3, **bar_placement()},
    )


def report_sigint(ctx) -> None:
    """Write the name of this process's SIGINT handler to its output."""
    import signal

    handler = signal.getsignal(signal.SIGINT)
    atomic_write_json(ctx.output_dir / "sigint.json",
                      {"handler": getattr(handler, "__name__", str(handler))})
