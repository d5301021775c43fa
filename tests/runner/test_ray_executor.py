"""The Ray executor against a real local Ray instance with 2 CPUs.

One instance serves the whole module (started by the first test that needs it, ended at the
end); the tests that stop a driver start their own in a subprocess. Job functions live in
tests/runner/runner_jobs.py and ray_jobs.py and note every execution in a log file, so the
tests count how often each job really ran.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the Ray executor needs Ray: pip install simfunc[ray]")

from runner_jobs import events  # noqa: E402
from test_runner import communicate_or_show_stacks, snapshot, value_jobs  # noqa: E402

from simfunc import InputError  # noqa: E402
from simfunc.runner import Job, LocalExecutor, Plan, run_plan  # noqa: E402
from simfunc.runner.ray_executor import RayExecutor  # noqa: E402
from simfunc.store import MANIFEST_NAME, Cache, ResultsDB  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SUBPROCESS_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests" / "runner")]),
}
WRITE = "runner_jobs:write_value"
RECORD = "runner_jobs:record_value"


def short_temp_dir() -> str:
    """A Ray session directory: short, because Ray's socket paths may not exceed 107 bytes."""
    return tempfile.mkdtemp(prefix="sfray-", dir="/tmp")


@pytest.fixture(scope="module")
def ray_executor():
    temp_dir = short_temp_dir()
    executor = RayExecutor(num_cpus=2, temp_dir=temp_dir)
    assert executor.capacity == 2  # starts the instance now, for every test of the module
    yield executor
    executor.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


TIMINGS = ("seconds", "cpu_seconds", "images_per_second", "train_seconds", "train_cpu_seconds",
           "wall_time_seconds")


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def computed(cache_root: Path) -> dict[str, bytes]:
    """Every committed file, byte for byte, except how long training took (metrics.json)."""
    files = snapshot(cache_root)
    for path, data in files.items():
        if path.endswith("/metrics.json"):
            files[path] = json.dumps(without_timings(json.loads(data)), sort_keys=True).encode()
        elif path.endswith("/" + MANIFEST_NAME):
            manifest = json.loads(data)
            manifest["files"].pop("metrics.json", None)
            files[path] = json.dumps(manifest, sort_keys=True).encode()
    return files


def tables(db: ResultsDB) -> dict:
    """The database's rows in one order whatever order the jobs finished in."""
    frames = {"pairs": db.pairs(), "models": db.models(), "scalars": db.scalars()}
    ordered = {}
    for name, frame in frames.items():
        frame = frame.drop(columns="run_id")
        order = frame.astype(str).sort_values(list(frame.columns)).index  # cells may be dicts
        ordered[name] = frame.loc[order].reset_index(drop=True)
    return ordered


# -- plans on the shared instance ------------------------------------------------------------------


@pytest.mark.slow  # starts a Ray instance
def test_ray_and_local_executors_give_identical_entries_and_rows(tmp_path, ray_executor):
    digits = {"arch": "mlp", "dataset": "digits", "image_size": 8, "epochs": 1, "seed": 0,
              "classes": [0, 1, 2], "batch_size": 64, "train_subset": 200}
    from simfunc.studies.classifier_jobs import ImageSet, ModelRecord, extract_job, train_job
    from simfunc.train.supervised import TrainConfig

    jobs = [
        *value_jobs(tmp_path / "events.log"),
        train_job("train/mlp", TrainConfig(**digits), [ModelRecord("mlp")]),
        extract_job("extract/mlp", "train/mlp", ImageSet("digits", subset=50, classes=(0, 1, 2))),
    ]
    plan = Plan(jobs)  # one plan, so the same keys for both
    results = {}
    for name, executor in (("local", LocalExecutor()), ("ray", ray_executor)):
        with ResultsDB(tmp_path / f"{name}.sqlite") as db:
            report = run_plan(plan, Cache(tmp_path / name), db, executor=executor, progress=False)
            results[name] = (computed(tmp_path / name), tables(db))
        assert report.run == len(plan) and report.ok, report.summary()
    (local_files, local_tables), (ray_files, ray_tables) = results["local"], results["ray"]
    assert any(path.startswith("train/") and path.endswith(".pt") for path in local_files)
    assert any(path.startswith("extract/") for path in local_files)
    assert sorted(local_files) == sorted(ray_files)
    for path, data in local_files.items():  # every byte: weights, features, checksums
        assert ray_files[path] == data, path
    assert len(local_tables["models"]) == 5 and len(local_tables["pairs"]) == 4
    for table, frame in local_tables.items():
        assert frame.equals(ray_tables[table]), table


@pytest.mark.slow  # starts a Ray instance
def test_job_bars_go_through_rays_distributed_tqdm(tmp_path, ray_executor, monkeypatch):
    from simfunc.io import load_json

    monkeypatch.setenv("SIMFUNC_PROGRESS", "bars")  # as on a terminal: Ray's bars

    jobs = [Job(f"show/{i}", "runner_jobs:show_progress", {"i": i}) for i in range(2)]
    report = run_plan(Plan(jobs), Cache(tmp_path), executor=ray_executor, progress=True)
    assert report.ok, report.summary()
    for job in jobs:
        placement = load_json(Path(report.entries[job.id]) / "placement.json")
        assert placement["backend"] == "ray" and placement["drawn"] and placement["shown"]


@pytest.mark.slow  # starts a Ray instance
def test_when_the_driver_writes_to_a_log_ray_tasks_write_plain_lines(tmp_path, ray_executor,
                                                                     monkeypatch, capfd):
    from simfunc.io import load_json

    monkeypatch.delenv("SIMFUNC_PROGRESS", raising=False)  # capfd's stderr is not a terminal
    jobs = [Job(f"show/{i}", "runner_jobs:show_progress", {"i": i}) for i in range(2)]
    report = run_plan(Plan(jobs), Cache(tmp_path), executor=ray_executor, progress=True)
    assert report.ok, report.summary()
    for job in jobs:
        placement = load_json(Path(report.entries[job.id]) / "placement.json")
        assert placement["backend"] == "lines" and placement["drawn"] and placement["shown"]
    error = capfd.readouterr().err
    assert "2/2 jobs done (2 run" in error and "\r" not in error


@pytest.mark.slow  # starts a Ray instance
def test_a_job_that_kills_its_worker_once_is_retried_and_the_run_completes(tmp_path, ray_executor):
    log = tmp_path / "log"
    jobs = [
        Job("train/crashes-once", "ray_jobs:crash_once",
            {"value": 5, "log": str(log), "marker": str(tmp_path / "crashed")}, record=RECORD),
        Job("train/other", WRITE, {"value": 1, "log": str(log)}, record=RECORD),
        Job("compare/after", WRITE, {"value": 2, "log": str(log)}, deps=["train/crashes-once"],
            record=RECORD),
    ]
    with ResultsDB(tmp_path / "r.sqlite") as db:
        report = run_plan(Plan(jobs), Cache(tmp_path / "cache"), db, executor=ray_executor,
                          progress=False)
        scalars = dict(db.scalars()[["name", "value"]].values.tolist())
    assert report.ok and report.status == dict.fromkeys(report.status, "run"), report.summary()
    # crash_once notes "run" before it dies, and write_value notes "run" again on the retry
    assert events(log).count("run train/crashes-once") == 3
    assert scalars == {"train/crashes-once": 5, "train/other": 1, "compare/after": 7}


@pytest.mark.slow  # starts a Ray instance
def test_a_worker_that_always_dies_fails_its_job_after_the_retries(tmp_path, ray_executor):
    log = tmp_path / "log"
    jobs = [
        Job("train/dies", "ray_jobs:crash_always", {"log": str(log)}),
        Job("extract/needs-it", WRITE, {"value": 1, "log": str(log)}, deps=["train/dies"]),
        Job("train/fine", WRITE, {"value": 2, "log": str(log)}),
    ]
    one_retry = RayExecutor(max_retries=1)  # joins the module's instance, which is running
    report = run_plan(Plan(jobs), Cache(tmp_path / "cache"), executor=one_retry, progress=False)
    one_retry.shutdown()
    assert report.status == {"train/dies": "failed", "extract/needs-it": "skipped",
                             "train/fine": "run"}
    assert events(log).count("run train/dies") == 2  # the first run and one retry
    error = report.failures["train/dies"].error
    assert "worker process running this job died" in error and "1 retries" in error
    assert ray.is_initialized()  # the borrowed instance was not shut down


@pytest.mark.slow  # starts a Ray instance
def test_a_job_that_raises_is_reported_and_only_its_dependents_are_skipped(tmp_path, ray_executor):
    log = tmp_path / "log"
    jobs = [
        Job("train/bad", "runner_jobs:fail", {"log": str(log)}),
        Job("extract/needs-bad", WRITE, {"value": 2, "log": str(log)}, deps=["train/bad"]),
        Job("compare/needs-that", WRITE, {"value": 3, "log": str(log)},
            deps=["extract/needs-bad"]),
        Job("train/a", WRITE, {"value": 1, "log": str(log)}),
        Job("train/later", WRITE, {"value": 4, "log": str(log)}, deps=["train/a"]),
    ]
    report = run_plan(Plan(jobs), Cache(tmp_path / "cache"), executor=ray_executor,
                      progress=False)
    assert report.status == {"train/bad": "failed", "extract/needs-bad": "skipped",
                             "compare/needs-that": "skipped", "train/a": "run",
                             "train/later": "run"}
    failure = report.failures["train/bad"]
    assert failure.error == "ValueError: boom in train/bad"  # deterministic: no retry
    assert events(log).count("run train/bad") == 1
    assert "Traceback" in failure.traceback and "runner_jobs.py" in failure.traceback
    assert report.skip_reasons["compare/needs-that"] == "its dependency 'extract/needs-bad' skipped"


@pytest.mark.slow  # starts a Ray instance
def test_a_job_no_node_can_run_fails_at_once_with_the_reason(tmp_path, ray_executor):
    log = str(tmp_path / "log")
    jobs = [
        Job("train/gpu", WRITE, {"value": 1, "log": log}, resources={"cpus": 1, "gpus": 1}),
        Job("train/wide", WRITE, {"value": 2, "log": log}, resources={"cpus": 3}),
        Job("train/fits", WRITE, {"value": 3, "log": log}, resources={"cpus": 2}),
    ]
    report = run_plan(Plan(jobs), Cache(tmp_path / "cache"), executor=ray_executor,
                      progress=False)
    assert report.status == {"train/gpu": "failed", "train/wide": "failed", "train/fits": "run"}
    assert "GPU=1" in report.failures["train/gpu"].error
    assert "CPU=3" in report.failures["train/wide"].error and "CPU=2" in report.failures[
        "train/wide"].error  # what the node offers
    assert events(log) == ["run train/fits"]


def test_ray_executor_checks_its_arguments():
    with pytest.raises(InputError, match="max_retries"):
        RayExecutor(max_retries=-1)
    with pytest.raises(InputError, match="num_cpus"):
        RayExecutor(num_cpus=0)
    with pytest.raises(InputError, match="cluster"):
        RayExecutor(address="10.0.0.1:6379", num_cpus=2)
    with pytest.raises(InputError, match="max_in_flight"):
        RayExecutor(max_in_flight=True)


# -- a driver that is stopped and rerun ------------------------------------------------------------

DRIVER = """
    import sys
    from simfunc.runner import Job, Plan, run_plan
    from simfunc.runner.ray_executor import RayExecutor
    from simfunc.store import Cache

    def jobs(tmp):
        common = {"log": tmp + "/log"}
        held = {**common, "hold": tmp + "/hold", "ready": tmp + "/ready", "pid": tmp + "/pid"}
        return [
            Job("train/long", "ray_jobs:pid_then_resumable", held),
            *[Job(f"train/quick{i}", "runner_jobs:write_value", {"value": i, **common})
              for i in range(3)],
            Job("compare/last", "runner_jobs:write_value", {"value": 10, **common},
                deps=["train/long", "train/quick0"]),
        ]

    if __name__ == "__main__":
        import faulthandler, signal
        faulthandler.register(signal.SIGUSR1)  # a hung driver shows its stacks to the test
        # the test's SIGINT stands for Ctrl-C; a shell that ran the tests in the background
        # (CI) may have left SIGINT ignored, and Python then installs no handler of its own
        signal.signal(signal.SIGINT, signal.default_int_handler)
        tmp, ray_dir = sys.argv[1], sys.argv[2]
        with RayExecutor(num_cpus=2, temp_dir=ray_dir) as executor:
            run_plan(Plan(jobs(tmp)), Cache(tmp + "/cache"), executor=executor, progress=False)
        print("finished")
"""


def session_processes(session: int) -> list[int]:
    """Live (not zombie) processes of a session: the driver started with start_new_session."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, session, ...
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def wait_until(condition, timeout: float, what: str, process=None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"driver ended early: {process.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class StoppedDriver:
    """A driver subprocess running DRIVER's plan on its own local Ray instance."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.ray_dir = short_temp_dir()
        (tmp_path / "driver.py").write_text(textwrap.dedent(DRIVER))
        (tmp_path / "hold").touch()
        self.process = subprocess.Popen(
            [sys.executable, str(tmp_path / "driver.py"), str(tmp_path), self.ray_dir],
            env=SUBPROCESS_ENV, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )
        sys.path.insert(0, str(tmp_path))
        try:
            from driver import jobs  # the same plan, for the rerun
        finally:
            sys.path.remove(str(tmp_path))
            sys.modules.pop("driver", None)
        self.plan = Plan(jobs(str(tmp_path)))
        self.cache = Cache(tmp_path / "cache")

    def committed(self, job_id: str) -> bool:
        return self.plan.entry_path(self.cache, job_id).is_dir()

    def wait_for_quick_jobs_and_the_held_one(self) -> None:
        wait_until(
            lambda: (self.tmp / "ready").exists()
            and all(self.committed(f"train/quick{i}") for i in range(3)),
            timeout=90, what="the quick jobs and the held job", process=self.process,
        )

    def clean_up(self) -> None:
        """End whatever is left of the driver's session (the driver too, if a check failed).

        After a SIGKILL, Ray's helper agents outlive their raylet for up to a minute before they
        notice; they are ended here so that nothing of the killed run stays behind.
        """
        for pid in session_processes(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.process.communicate(timeout=30)
        shutil.rmtree(self.ray_dir, ignore_errors=True)

    def rerun_and_check(self, executor: RayExecutor) -> None:
        """Rerun the plan: only the unfinished jobs run, the held one resuming its checkpoint."""
        (self.tmp / "hold").unlink()
        before = len(events(self.tmp / "log"))
        report = run_plan(self.plan, self.cache, executor=executor, progress=False)
        assert report.status == {"train/long": "run", "train/quick0": "cached",
                                 "train/quick1": "cached", "train/quick2": "cached",
                                 "compare/last": "run"}, report.summary()
        assert events(self.tmp / "log")[before:] == [
            "start train/long", "resume train/long", "done train/long", "run compare/last",
        ]
        entry = report.entries["train/long"]
        assert sorted(path.name for path in entry.iterdir()) == [
            MANIFEST_NAME, "part1.npz", "value.json",
        ]
        # the same results as one uninterrupted run (which notes its events after these)
        fresh = self.tmp / "fresh-cache"
        reference = run_plan(self.plan, Cache(fresh), executor=LocalExecutor(), progress=False)
        assert reference.ok
        assert snapshot(self.tmp / "cache") == snapshot(fresh)


@pytest.mark.slow  # starts a Ray instance
def test_a_killed_driver_reruns_only_what_was_unfinished(tmp_path, ray_executor):
    driver = StoppedDriver(tmp_path)
    try:
        driver.wait_for_quick_jobs_and_the_held_one()
        worker = int((tmp_path / "pid").read_text())
        assert alive(worker)  # the held job runs in a Ray worker, not in the driver
        assert worker != driver.process.pid
        driver.process.send_signal(signal.SIGKILL)
        driver.process.wait(timeout=30)
        # the held job's worker dies with the driver: nothing computes on in the background
        wait_until(lambda: not alive(worker), timeout=30, what="the worker to die with its driver")
    finally:
        driver.clean_up()
    assert sorted(events(tmp_path / "log")) == sorted(
        ["start train/long", "part1 train/long", *[f"run train/quick{i}" for i in range(3)]]
    )
    staging = next((tmp_path / "cache" / "train").glob("*.partial"))
    assert [path.name for path in staging.iterdir()] == ["part1.npz"]
    driver.rerun_and_check(ray_executor)


@pytest.mark.slow  # starts a Ray instance
def test_ctrl_c_cancels_the_ray_tasks_shuts_ray_down_and_a_rerun_resumes(tmp_path, ray_executor):
    driver = StoppedDriver(tmp_path)
    try:
        driver.wait_for_quick_jobs_and_the_held_one()
        worker = int((tmp_path / "pid").read_text())
        driver.process.send_signal(signal.SIGINT)  # to the driver only: it must stop Ray itself
        stdout, stderr = communicate_or_show_stacks(driver.process, timeout=60)
        assert driver.process.returncode != 0 and "finished" not in stdout
        assert "KeyboardInterrupt" in stderr
        # the quick jobs are committed; the driver may not have collected the last one yet
        summary = re.search(r"interrupted: (\d) run, 0 cached, 0 failed, 0 skipped", stderr)
        assert summary and int(summary.group(1)) in (2, 3), stderr
        assert re.search(r"  interrupted: .*train/long", stderr) and "rerun to resume" in stderr
        wait_until(lambda: not alive(worker), timeout=30, what="the worker to stop")
        # the driver shut down the Ray instance it started: nothing of it is left
        wait_until(lambda: not session_processes(driver.process.pid), timeout=30,
                   what="the driver's Ray processes to end")
    finally:
        driver.clean_up()
    assert "compare/last" not in " ".join(events(tmp_path / "log"))
    staging = next((tmp_path / "cache" / "train").glob("*.partial"))
    assert [path.name for path in staging.iterdir()] == ["part1.npz"]
    driver.rerun_and_check(ray_executor)


# -- the command line ------------------------------------------------------------------------------

STUDY_ARGS = ["run", "architectures", "--set", "archs=mlp", "--set", "seeds=0,1",
              "--set", "training.epochs=1", "--set", "image_size=8", "--set", "n_permutations=200",
              "--set", "n_resamples=200"]


@pytest.mark.slow
def test_the_cli_runs_a_study_on_ray_with_the_same_results_as_locally(tmp_path):
    pytest.importorskip("simfunc.representational",
                        reason="the studies' compare jobs need simfunc.representational")
    from simfunc.cli import main

    local = tmp_path / "local"
    assert main([*STUDY_ARGS, "--out", str(local / "runs"), "--cache-dir", str(local / "cache"),
                 "--jobs", "1", "--no-progress"]) == 0
    on_ray = tmp_path / "ray"
    ray_root = short_temp_dir()
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "simfunc", *STUDY_ARGS, "--out", str(on_ray / "runs"),
             "--cache-dir", str(on_ray / "cache"), "--executor", "ray", "--jobs", "2"],
            env={**SUBPROCESS_ENV, "RAY_TMPDIR": ray_root, "SIMFUNC_PROGRESS": "bars"},
            cwd=tmp_path,
            capture_output=True, text=True, timeout=300,
        )
    finally:
        shutil.rmtree(ray_root, ignore_errors=True)
    assert finished.returncode == 0, finished.stderr
    assert "8 jobs: 8 run, 0 cached, 0 failed" in finished.stdout
    # the plan's bar (drawn by Ray's bar manager, counts in its description) and a job's bar
    assert re.search(r"jobs \[run=8, cached=0, failed=0, skipped=0\]: 100%", finished.stderr)
    assert re.search(r"epoch 1/1", finished.stderr)
    run_dirs = [root / "runs" / "architectures-quick" for root in (local, on_ray)]
    summaries = [json.loads((run_dir / "summary.json").read_text()) for run_dir in run_dirs]
    assert summaries[0] == summaries[1] and summaries[0]["n_pairs"] == 1
    frames = []
    for run_dir in run_dirs:
        with ResultsDB(run_dir / "results.sqlite") as db:
            frames.append(tables(db))
    for table in ("pairs", "models"):
        assert len(frames[0][table]) > 0 and frames[0][table].equals(frames[1][table]), table
    assert computed(local / "cache") == computed(on_ray / "cache")
