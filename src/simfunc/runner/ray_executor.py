"""Run jobs as Ray tasks: on a private local Ray instance, or on a Ray cluster.

:class:`RayExecutor` implements the :class:`~simfunc.runner.executors.Executor` interface, so
:func:`~simfunc.runner.run_plan` drives it exactly as it drives the local executors: the driver
submits only jobs whose dependencies are done, calls every ``record`` function itself (it stays
the only writer of the results database) and retries nothing a second time on its own. Each job
becomes one Ray task that calls :func:`~simfunc.runner.task.execute_task` in a Ray worker, with
the job's ``resources`` as the task's resources (``cpus`` -> ``num_cpus``, ``gpus`` ->
``num_gpus``, ``memory`` -> ``memory`` in bytes, any other key -> a custom Ray resource). Jobs
read and write the cache directly, with the cache's locks, atomic writes and checksums; only the
small :class:`~simfunc.runner.task.TaskResult` travels back. On a cluster the cache root must be
a path every node sees (a shared file system) and simfunc must be importable on every node.

Fault tolerance
---------------
* A job that *raises* fails deterministically: it is not retried, its error and traceback come
  back in the result, and the runner skips only what depends on it.
* A job whose *worker process dies* (killed, out of memory, the node lost, ``os._exit``) is
  re-run by Ray up to ``max_retries`` times (Ray's own retry of system failures). A Ray worker
  runs one task at a time, so a death is always its own job's: when the retries are used up the
  job fails with a "worker died" error and the runner does not retry it again. Attempts in all:
  ``1 + max_retries``.
* When the driver stops (Ctrl-C, or SIGKILL), whatever was committed stays committed and a
  rerun reuses it; a job interrupted while running keeps its staging directory and resumes from
  its own checkpoints. Ctrl-C cancels the running tasks (``KeyboardInterrupt`` in the workers);
  a local instance this executor started is shut down with it, and after a SIGKILL of the driver
  Ray's processes follow it (the workers and raylet at once, Ray's helper agents within about a
  minute).

Ray is an optional dependency (``pip install simfunc[ray]``): this module imports it only when a
:class:`RayExecutor` is created, and nothing else in simfunc imports it at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from simfunc.errors import InputError
from simfunc.progress import bar_style, place_bars
from simfunc.runner.executors import Executor, _initialize_worker
from simfunc.runner.task import FAILED, JobTask, TaskResult, execute_task

__all__ = ["RayExecutor", "INSTALL_HINT"]

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install simfunc[ray]"

# Ray logs this warning at every start of a local instance: it only says that the (secure)
# default is in force, so it is held back to keep a run's output quiet.
_TOKEN_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"

_worker_ready = False  # set in a Ray worker once its logging is set up


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise InputError(
            f"the Ray executor needs Ray, which is not installed ({error}): {INSTALL_HINT}"
        ) from None
    return ray


def _run_in_worker(task: JobTask, log_level: int, bars: str = "ray") -> TaskResult:
    """The body of every Ray task: set up the worker once, then run the job.

    ``bars``: ``"ray"`` (the task prints its bars' state; the driver draws them) or
    ``"lines"`` (the driver writes to a log: plain lines, which Ray forwards).
    """
    global _worker_ready
    if not _worker_ready:
        _initialize_worker(max(1, int(task.job.resources.get("cpus", 1))), log_level)
        _worker_ready = True
    place_bars(backend=bars)
    return execute_task(task)


def _driver_code_paths() -> list[str]:
    """The driver's own import directories (its project, its tests) for the workers' path.

    Ray workers start with the interpreter's default path; entries of ``sys.path`` outside the
    Python installation (a ``src`` folder, a folder of job modules) are handed on so that job
    functions named ``"module:function"`` import in the workers as they do in the driver.
    """
    installation = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.getcwd())
        inside = any(path == root or path.startswith(root + os.sep) for root in installation)
        if os.path.isdir(path) and not inside and path not in paths:
            paths.append(path)
    return paths


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block (processes started inherit them)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _quiet_token_notice() -> Iterator[None]:
    notice = logging.getLogger(_TOKEN_NOTICE_LOGGER)
    level = notice.level
    notice.setLevel(logging.ERROR)
    try:
        yield
    finally:
        notice.setLevel(level)


def _ray_resources(resources: Mapping[str, float]) -> dict[str, Any]:
    """Ray task options for a job's ``resources``."""
    options: dict[str, Any] = {"num_cpus": resources.get("cpus", 1),
                               "num_gpus": resources.get("gpus", 0)}
    custom = {}
    for name, amount in resources.items():
        if name in ("cpus", "gpus"):
            continue
        if name == "memory":
            options["memory"] = amount
        elif amount:
            custom[name] = amount
    if custom:
        options["resources"] = custom
    return options


def _needs(options: Mapping[str, Any]) -> dict[str, float]:
    """The Ray resource names and amounts that ``options`` ask of one node."""
    needs = {"CPU": options["num_cpus"], "GPU": options["num_gpus"],
             "memory": options.get("memory", 0), **options.get("resources", {})}
    return {name: float(amount) for name, amount in needs.items() if amount}


def _check_count(value: Any, name: str, minimum: int) -> None:
    # plain checks, no numpy: Ray workers import this module before their first job runs
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")


class RayExecutor(Executor):
    """Runs each job as a Ray task (``--executor ray``); see the module docstring.

    Parameters
    ----------
    address:
        ``None`` (default): start a private local Ray instance on first use and shut it down in
        :meth:`shutdown`. Otherwise the address of a running cluster to join (``"host:port"``,
        ``"ray://host:port"``, or ``"auto"`` for the one ``ray start`` started here or the one
        ``RAY_ADDRESS`` names); the cluster is left running. If Ray is already initialised in
        this process, that instance is used as it is and left running.
    num_cpus:
        CPUs of the local instance (default: all of this machine's). Not allowed with
        ``address``: a cluster's nodes declare their own.
    max_retries:
        How many times Ray re-runs a job whose worker process died (default 2; 0: never). A job
        that raises is never retried.
    max_in_flight:
        Jobs the runner keeps submitted at once (default: the cluster's CPU count when Ray
        starts); Ray queues the ones that find no free resources.
    temp_dir:
        Ray's session directory for a local instance (default: Ray's, ``/tmp/ray``). Keep it
        short: Ray puts Unix sockets in it, whose paths may not exceed 107 bytes.
    namespace:
        The Ray namespace of this driver.
    log_to_driver:
        Show the workers' output (job warnings, logs, and the jobs' progress bars, which Ray's
        distributed tqdm draws in the driver) in the driver's terminal.
    """

    bar_backend = "ray"

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        max_retries: int = 2,
        max_in_flight: int | None = None,
        temp_dir: str | os.PathLike[str] | None = None,
        namespace: str = "simfunc",
        log_to_driver: bool = True,
    ) -> None:
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise InputError(
                f"address must be a non-empty string such as 'host:6379', got {address!r}"
            )
        if num_cpus is not None:
            _check_count(num_cpus, "num_cpus", 1)
            if address is not None:
                raise InputError(
                    "num_cpus sets the CPUs of a local Ray instance; a cluster joined at "
                    f"address {address!r} has its own"
                )
        _check_count(max_retries, "max_retries", 0)
        if max_in_flight is not None:
            _check_count(max_in_flight, "max_in_flight", 1)
        if temp_dir is not None and address is not None:
            raise InputError("temp_dir applies to a local Ray instance, not to a joined cluster")
        if not isinstance(namespace, str) or not namespace:
            raise InputError(f"namespace must be a non-empty string, got {namespace!r}")
        self._ray = _import_ray()
        self.address = address
        self.num_cpus = num_cpus
        self.max_retries = max_retries
        self.max_in_flight = max_in_flight
        self.temp_dir = os.fspath(temp_dir) if temp_dir is not None else None
        self.namespace = namespace
        self.log_to_driver = bool(log_to_driver)
        self._started = False
        self._owned = False  # whether shutdown() ends the Ray instance (we started it)
        self._private = False  # whether it is a local instance we started (it never grows)
        self._remote: Any = None
        self._capacity = 1
        self._nodes: list[dict[str, float]] = []
        self._tasks: dict[Any, JobTask] = {}

    def __repr__(self) -> str:
        where = f"address={self.address!r}" if self.address else f"num_cpus={self.num_cpus}"
        return f"RayExecutor({where}, max_retries={self.max_retries})"

    # -- starting and stopping -----------------------------------------------------------------

    def _start(self) -> None:
        """Start or join Ray on first use (a fully cached plan never starts it)."""
        if self._started:
            return
        ray = self._ray
        if ray.is_initialized():
            logger.info("using the Ray instance already initialised in this process")
            self._owned = self._private = False
        else:
            options: dict[str, Any] = {
                "namespace": self.namespace,
                "include_dashboard": False,
                "logging_level": logging.WARNING,
                "log_to_driver": self.log_to_driver,
            }
            python_path = os.pathsep.join(_driver_code_paths())
            environment: dict[str, str] = {}
            if self.address is None:
                options.update(address="local", num_cpus=self.num_cpus)
                if self.temp_dir is not None:
                    options["_temp_dir"] = self.temp_dir
                # the local raylet inherits the driver's environment and passes it to the
                # workers it starts (ahead of time): cheaper than a runtime environment
                environment["PYTHONPATH"] = python_path
            else:
                options["address"] = self.address
                # ${PYTHONPATH}: Ray expands it to the node's own, which stays in force
                options["runtime_env"] = {
                    "env_vars": {"PYTHONPATH": python_path + os.pathsep + "${PYTHONPATH}"}
                }
            try:
                with _quiet_token_notice(), _environment(environment):
                    ray.init(**options)
            except ConnectionError as error:
                raise InputError(
                    f"cannot join the Ray cluster at {self.address!r}: {error}"
                ) from None
            self._owned = True
            self._private = self.address is None
        self._nodes = [
            {name: float(amount) for name, amount in node["Resources"].items()}
            for node in ray.nodes()
            if node.get("Alive")
        ]
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self._capacity = self.max_in_flight or max(1, cpus)
        self._remote = ray.remote(_run_in_worker)
        self._started = True

    def shutdown(self, cancel: bool = False) -> None:
        """Cancel running tasks (with ``cancel``) and end the local Ray instance we started."""
        ray = self._ray
        pending = list(self._tasks)
        self._tasks.clear()
        if cancel and pending and ray.is_initialized():
            for handle in pending:  # KeyboardInterrupt in each running job; queued ones dropped
                with contextlib.suppress(Exception):
                    ray.cancel(handle)
            with contextlib.suppress(Exception):  # let them release their locks and unwind
                ray.wait(pending, num_returns=len(pending), timeout=10)
        if self._owned and ray.is_initialized():
            ray.shutdown()
        self._started = self._owned = self._private = False
        self._remote = None

    # -- the Executor interface ----------------------------------------------------------------

    @property
    def capacity(self) -> int:
        self._start()
        return self._capacity

    def _unschedulable(self, options: Mapping[str, Any]) -> str | None:
        """Why no node can ever run a task with ``options`` (None when one can)."""
        needs = _needs(options)
        for node in self._nodes:
            if all(node.get(name, 0.0) >= amount for name, amount in needs.items()):
                return None
        offered = "; ".join(
            ", ".join(f"{name}={node.get(name, 0.0):g}" for name in needs) for node in self._nodes
        )
        wanted = ", ".join(f"{name}={amount:g}" for name, amount in needs.items())
        return (
            f"it needs {wanted} on one node, and no Ray node offers that "
            f"(nodes: {offered or 'none'})"
        )

    def submit(self, task: JobTask) -> Any:
        self._start()
        job = task.job
        options = _ray_resources(job.resources)
        problem = self._unschedulable(options)
        if problem and self._private:  # a local instance never grows: fail at once
            message = f"job {job.id!r} cannot run on this Ray instance: {problem}"
            handle = self._ray.put(
                TaskResult(job.id, FAILED, error=message, traceback=message)
            )
        else:
            if problem:  # a cluster may add nodes (autoscaling): Ray waits for them
                logger.warning("job %r waits for resources: %s", job.id, problem)
            handle = self._remote.options(
                **options,
                max_retries=self.max_retries,
                retry_exceptions=False,
                name=job.label,
            ).remote(task, logging.getLogger("simfunc").getEffectiveLevel(),
                      "ray" if bar_style() == "bars" else "lines")
        self._tasks[handle] = task
        return handle

    def wait_any(self, handles: Collection[Any]) -> list[Any]:
        if not handles:
            raise ValueError("wait_any needs at least one handle")
        ray = self._ray
        done, rest = ray.wait(list(handles), num_returns=1)
        if rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            done += more
        return done

    def result(self, handle: Any) -> TaskResult:
        task = self._tasks.pop(handle)
        exceptions = self._ray.exceptions
        died = (
            exceptions.WorkerCrashedError,
            exceptions.NodeDiedError,
            exceptions.OutOfMemoryError,
            exceptions.LocalRayletDiedError,
            exceptions.ObjectLostError,
        )
        try:
            return self._ray.get(handle)
        except died as error:
            retried = (
                f"on its first run and on each of {self.max_retries} retries"
                if self.max_retries
                else "and max_retries=0 allows no retry"
            )
            message = (
                "the worker process running this job died (killed, out of memory, its node "
                f"lost, or the job exited the process) {retried}: {type(error).__name__}: {error}"
            )
        except exceptions.TaskCancelledError:
            message = "the job was cancelled"
        except exceptions.RayTaskError as error:
            if isinstance(error.cause, exceptions.TaskCancelledError):
                message = "the job was cancelled"
            else:  # raised outside the job itself: e.g. simfunc not importable on the node
                message = f"the Ray task failed outside the job: {error}"
        except exceptions.RayError as error:
            message = f"Ray could not run the job: {type(error).__name__}: {error}"
        return TaskResult(task.job.id, FAILED, error=message, traceback=message)
