"""What a job function sees: its configuration, its output directory, its inputs and helpers.

A job function has the signature ``fn(ctx: JobContext) -> None``. It writes every file into
``ctx.output_dir`` with the atomic writers of :mod:`simfunc.io.atomic`; when it returns, the
runner commits that directory as the job's cache entry. ``ctx.output_dir`` may already hold
files from an interrupted earlier attempt (a checkpoint, say): the job decides whether to resume
from them or to start again with ``ctx.clear_output()``.
"""

from __future__ import annotations

import copy
import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simfunc.errors import InputError
from simfunc.store.cache import Cache

if TYPE_CHECKING:
    from simfunc.runner.plan import Job

__all__ = ["JobContext", "JobSettings"]

logger = logging.getLogger("simfunc.runner.job")


@dataclass(frozen=True)
class JobSettings:
    """Settings of a run that every job sees, chosen by the driver.

    Attributes
    ----------
    device:
        Where jobs should compute, e.g. ``"cpu"`` or ``"cuda"`` (``ctx.device``).
    progress:
        Whether the job shows progress bars (``ctx.progress``; :mod:`simfunc.progress` places
        them wherever the job runs).
    limit_threads:
        Limit torch, BLAS and OpenMP threads to the job's ``resources["cpus"]`` while it runs
        (restored afterwards when the job runs in the driver).
    verify:
        Re-hash cache entries on lookup.
    """

    device: str = "cpu"
    progress: bool = False
    limit_threads: bool = False
    verify: bool = True


class JobContext:
    """The handle a job function gets. See the module docstring."""

    def __init__(
        self,
        job: Job,
        key: str,
        cache: Cache,
        output_dir: Path,
        inputs: Mapping[str, str],
        settings: JobSettings,
    ) -> None:
        self.job = job
        self.key = key
        self.cache = cache
        self.output_dir = Path(output_dir)
        self.settings = settings
        self._inputs = {dep: Path(path) for dep, path in inputs.items()}
        self._config = copy.deepcopy(dict(job.config))
        self._log_path = cache.log_path(job.namespace, key)

    @property
    def job_id(self) -> str:
        return self.job.id

    @property
    def config(self) -> dict[str, Any]:
        """The job's configuration (a private copy: changing it changes nothing else)."""
        return self._config

    @property
    def device(self) -> str:
        return self.settings.device

    def input(self, dep_id: str) -> Path:
        """The committed entry directory of the dependency ``dep_id``."""
        try:
            return self._inputs[dep_id]
        except KeyError:
            declared = ", ".join(map(repr, self._inputs)) or "none"
            raise InputError(
                f"job {self.job_id!r} reads {dep_id!r}, which is not among its deps "
                f"(declared: {declared})"
            ) from None

    def progress(self, total: int | None = None, desc: str | None = None, **options: Any) -> Any:
        """A progress bar (tqdm's arguments; silent when progress is off), placed for the
        process the job runs in (:mod:`simfunc.progress`). Use it as a context manager."""
        from simfunc.progress import progress_bar

        return progress_bar(
            total=total, desc=desc or self.job.label, disable=not self.settings.progress, **options
        )

    def log(self, message: str) -> None:
        """Log a message: to the ``simfunc.runner.job`` logger and to the job's log file."""
        text = str(message)
        logger.info("%s: %s", self.job_id, text)
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._log_path, "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {text}\n")

    def clear_output(self) -> None:
        """Delete everything in ``output_dir`` (start from scratch instead of resuming)."""
        shutil.rmtree(self.output_dir, ignore_errors=True)
        self.output_dir.mkdir(parents=True, exist_ok=True)
