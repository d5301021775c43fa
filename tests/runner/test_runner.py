"""Plans, executors and run_plan on a real cache, real databases and real worker processes.

Job functions live in tests/runner/runner_jobs.py and note every execution in a log file, so the
tests count how often each job really ran.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from runner_jobs import events

from simfunc import InputError
from simfunc.runner import (
    Job,
    JobContext,
    JobSettings,
    JobsFailed,
    LocalExecutor,
    Plan,
    ProcessExecutor,
    run_plan,
    run_plans,
)
from simfunc.runner.task import TaskResult
from simfunc.io import config_hash, load_json
from simfunc.store import MANIFEST_NAME, Cache, ResultsDB

REPO = Path(__file__).resolve().parents[2]
SUBPROCESS_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests" / "runner")]),
}

WRITE = "runner_jobs:write_value"
RECORD = "runner_jobs:record_value"


def value_jobs(log: Path) -> list[Job]:
    """a and b independent, c reads both, d reads c: values 1, 2, 1+2+3, 6+4."""
    common = {"log": str(log)}
    return [
        Job("train/a", WRITE, {"value": 1, **common}, record=RECORD),
        Job("train/b", WRITE, {"value": 2, **common}, record=RECORD),
        Job("extract/c", WRITE, {"value": 3, **common}, deps=("train/a", "train/b"), record=RECORD),
        Job(
            "compare/d", WRITE, {"value": 4, **common}, deps=["extract/c"], record=RECORD, label="d"
        ),
    ]


def value_of(report, job_id: str) -> float:
    return json.loads((report.entries[job_id] / "value.json").read_text())["value"]


# -- jobs and plans --------------------------------------------------------------------------------


def test_plan_orders_jobs_by_dependencies_keeping_the_given_order(tmp_path):
    jobs = value_jobs(tmp_path / "log")
    plan = Plan([jobs[3], jobs[2], jobs[0], jobs[1]])
    assert plan.order == ("train/a", "train/b", "extract/c", "compare/d")
    assert [job.id for job in plan] == list(plan.order) and len(plan) == 4
    assert plan.dependents("extract/c") == ["compare/d"] and "train/a" in plan


def test_plan_rejects_duplicate_ids_missing_dependencies_and_cycles(tmp_path):
    a = Job("x/a", WRITE, {"value": 1})
    with pytest.raises(InputError, match="repeated: x/a"):
        Plan([a, Job("x/a", WRITE, {"value": 2})])
    with pytest.raises(InputError, match="'x/b' needs 'x/zzz'"):
        Plan([a, Job("x/b", WRITE, deps=["x/zzz"])])
    cycle = [
        Job("x/a", WRITE, deps=["x/c"]),
        Job("x/b", WRITE, deps=["x/a"]),
        Job("x/c", WRITE, deps=["x/b"]),
        Job("x/free", WRITE),
    ]
    with pytest.raises(InputError, match="cycle") as info:
        Plan(cycle)
    assert all(name in str(info.value) for name in ("'x/a'", "'x/b'", "'x/c'"))
    assert "x/free" not in str(info.value)
    with pytest.raises(InputError, match="cycle"):
        Plan([Job("x/self", WRITE, deps=["x/self"])])


def test_job_validates_its_fields():
    with pytest.raises(InputError, match="module:function"):
        Job("x/a", "runner_jobs.write_value")
    with pytest.raises(InputError, match="deps must be a list"):
        Job("x/a", WRITE, deps="x/b")
    with pytest.raises(InputError, match="namespace"):
        Job("no-slash", WRITE)
    with pytest.raises(InputError, match=r"config\['lr'\]"):
        Job("x/a", WRITE, {"lr": float("nan")})
    with pytest.raises(InputError, match="resources"):
        Job("x/a", WRITE, resources={"cpus": -1})
    job = Job("plain", WRITE, {"sizes": (1, 2)}, namespace="misc")
    assert job.namespace == "misc" and job.config == {"sizes": [1, 2]} and job.label == "plain"
    assert job.resources == {"cpus": 1, "gpus": 0}


def test_a_job_key_changes_when_anything_upstream_changes(tmp_path):
    jobs = value_jobs(tmp_path / "log")
    plan = Plan(jobs)
    changed = Plan([Job("train/a", WRITE, {**jobs[0].config, "value": 10}), *jobs[1:]])
    assert plan.key("train/b") == changed.key("train/b")
    for job_id in ("train/a", "extract/c", "compare/d"):
        assert plan.key(job_id) != changed.key(job_id)
    assert plan.key("train/a") == config_hash(WRITE, jobs[0].config)  # no deps: the plain hash
    assert plan.entry_path(Cache(tmp_path), "train/a") == tmp_path / "train" / plan.key("train/a")


def test_meta_names_things_without_changing_the_key():
    named = Job("train/a", WRITE, {"value": 1}, meta={"model_id": "resnet18-s0", "seeds": (0, 1)})
    other = Job("train/a", WRITE, {"value": 1}, meta={"model_id": "a-different-name"})
    assert named.meta == {"model_id": "resnet18-s0", "seeds": [0, 1]}
    assert Plan([named]).key("train/a") == Plan([other]).key("train/a")
    with pytest.raises(InputError, match="meta must be a mapping"):
        Job("train/b", WRITE, meta=["x"])


# -- running ---------------------------------------------------------------------------------------


def test_run_computes_in_dependency_order_then_reuses_everything(tmp_path):
    log = tmp_path / "log"
    plan, cache = Plan(value_jobs(log)), Cache(tmp_path / "cache")
    with ResultsDB(tmp_path / "first.sqlite") as db:
        report = run_plan(plan, cache, db, progress=False)
    assert (report.run, report.cached, report.failed, report.skipped) == (4, 0, 0, 0) and report.ok
    assert [value_of(report, job_id) for job_id in plan.order] == [1, 2, 6, 10]
    assert events(log) == [
        "run train/a",
        "record train/a",
        "run train/b",
        "record train/b",
        "run extract/c",
        "record extract/c",
        "run compare/d",
        "record compare/d",
    ]
    for job_id in plan.order:
        assert report.entries[job_id] == plan.entry_path(cache, job_id)
        manifest = cache.manifest(report.entries[job_id])
        assert manifest["config"] == plan[job_id].config and manifest["fn"] == WRITE
    assert cache.manifest(report.entries["compare/d"])["inputs"] == {
        "extract/c": plan.key("extract/c")
    }

    with ResultsDB(tmp_path / "second.sqlite") as db:  # a fresh database, the same cache
        again = run_plan(plan, cache, db, progress=False)
        scalars = dict(db.scalars()[["name", "value"]].values.tolist())
    assert (again.run, again.cached) == (0, 4) and again.wall_time >= 0
    assert not [line for line in events(log)[8:] if line.startswith("run")]  # nothing recomputed
    assert sorted(line for line in events(log)[8:]) == sorted(f"record {j}" for j in plan.order)
    assert scalars == {"train/a": 1, "train/b": 2, "extract/c": 6, "compare/d": 10}


def test_without_a_database_record_functions_are_not_called(tmp_path):
    log = tmp_path / "log"
    report = run_plan(Plan(value_jobs(log)), Cache(tmp_path / "cache"), progress=False)
    assert report.run == 4 and not [line for line in events(log) if line.startswith("record")]


def test_a_failing_job_skips_its_dependents_and_the_rest_goes_on(tmp_path):
    log = tmp_path / "log"
    jobs = [
        Job("train/a", WRITE, {"value": 1, "log": str(log)}),
        Job("train/bad", "runner_jobs:fail", {"log": str(log)}),
        Job("extract/needs-bad", WRITE, {"value": 2, "log": str(log)}, deps=["train/bad"]),
        Job("compare/needs-that", WRITE, {"value": 3, "log": str(log)}, deps=["extract/needs-bad"]),
        Job("train/later", WRITE, {"value": 4, "log": str(log)}),
    ]
    report = run_plan(Plan(jobs), Cache(tmp_path / "cache"), progress=False)
    assert report.status == {
        "train/a": "run",
        "train/bad": "failed",
        "extract/needs-bad": "skipped",
        "compare/needs-that": "skipped",
        "train/later": "run",
    }
    failure = report.failures["train/bad"]
    assert failure.error == "ValueError: boom in train/bad"
    assert "Traceback" in failure.traceback and "runner_jobs.py" in failure.traceback
    assert report.skip_reasons["extract/needs-bad"] == "its dependency 'train/bad' failed"
    assert "boom in train/bad" in report.summary() and not report.ok
    with pytest.raises(JobsFailed, match="boom"):
        report.raise_for_failures()
    # the failed job left its staging directory (nothing committed) and reruns next time
    assert (tmp_path / "cache" / "train" / (Plan(jobs).key("train/bad") + ".partial")).is_dir()

    stopped = run_plan(Plan(jobs), Cache(tmp_path / "cache2"), progress=False, keep_going=False)
    assert stopped.status["train/bad"] == "failed" and stopped.status["train/later"] == "skipped"
    assert "keep_going" in stopped.skip_reasons["train/later"]


def test_a_long_chain_below_a_failure_is_skipped(tmp_path):
    log = str(tmp_path / "log")
    depth = 3 * sys.getrecursionlimit()
    jobs = [Job("chain/0", "runner_jobs:fail", {"log": log})]
    jobs += [
        Job(f"chain/{i}", WRITE, {"value": i}, deps=[f"chain/{i - 1}"]) for i in range(1, depth)
    ]
    report = run_plan(Plan(jobs), Cache(tmp_path / "cache"), progress=False)
    assert (report.failed, report.skipped, report.run) == (1, depth - 1, 0)
    assert (
        report.skip_reasons[f"chain/{depth - 1}"] == f"its dependency 'chain/{depth - 2}' skipped"
    )


def test_a_failing_record_function_fails_its_job(tmp_path):
    log = tmp_path / "log"
    jobs = [
        Job("train/a", WRITE, {"value": 1, "log": str(log)}, record="runner_jobs:record_fails"),
        Job("train/b", WRITE, {"value": 2, "log": str(log)}, deps=["train/a"]),
    ]
    with ResultsDB(tmp_path / "r.sqlite") as db:
        report = run_plan(Plan(jobs), Cache(tmp_path / "cache"), db, progress=False)
    assert report.status == {"train/a": "failed", "train/b": "skipped"}
    assert report.failures["train/a"].error == "record failed: RuntimeError: cannot record train/a"


def test_a_corrupted_entry_is_recomputed_and_only_it(tmp_path, caplog):
    log = tmp_path / "log"
    plan, cache = Plan(value_jobs(log)), Cache(tmp_path / "cache")
    first = run_plan(plan, cache, progress=False)
    damaged = first.entries["extract/c"] / "array.npz"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="simfunc.store.cache"):
        second = run_plan(plan, Cache(tmp_path / "cache"), progress=False)
    assert second.status == {
        "train/a": "cached",
        "train/b": "cached",
        "extract/c": "run",
        "compare/d": "cached",
    }
    assert [line for line in events(log) if line.startswith("run")][4:] == ["run extract/c"]
    assert f"extract/{plan.key('extract/c')}" in caplog.text and "array.npz" in caplog.text
    restored = np.load(second.entries["extract/c"] / "array.npz", allow_pickle=False)["values"]
    np.testing.assert_array_equal(restored, np.arange(6) * 6.0)


def test_twin_jobs_with_the_same_configuration_compute_once(tmp_path):
    log = tmp_path / "log"
    config = {"value": 5, "log": str(log)}
    jobs = [Job("train/one", WRITE, config), Job("train/two", WRITE, config)]
    for executor in (LocalExecutor(), ProcessExecutor(2)):
        report = run_plan(
            Plan(jobs), Cache(tmp_path / type(executor).__name__), executor=executor, progress=False
        )
        executor.shutdown()
        assert sorted(report.status.values()) == ["cached", "run"]
        assert report.entries["train/one"] == report.entries["train/two"]
    assert events(log) == ["run train/one", "run train/one"]  # once per cache


def test_context_gives_config_inputs_device_and_a_log(tmp_path):
    cache = Cache(tmp_path)
    job = Job("x/a", WRITE, {"value": 1}, deps=["x/dep"])
    ctx = JobContext(
        job,
        "f" * 20,
        cache,
        tmp_path / "out",
        {"x/dep": str(tmp_path / "dep")},
        JobSettings(device="cuda:1"),
    )
    assert ctx.device == "cuda:1" and ctx.input("x/dep") == tmp_path / "dep"
    with pytest.raises(InputError, match="not among its deps"):
        ctx.input("x/other")
    ctx.config["value"] = 99
    assert job.config["value"] == 1  # the job's own configuration is untouched
    ctx.log("epoch 1 done")
    assert cache.log_path("x", "f" * 20).read_text().endswith("epoch 1 done\n")
    with ctx.progress(total=3) as bar:
        bar.update(3)
        assert bar.disable


# -- executors -------------------------------------------------------------------------------------


def snapshot(cache_root: Path) -> dict[str, bytes]:
    """Every committed file of a cache, with the manifests' creation times blanked."""
    files = {}
    for path in sorted(cache_root.rglob("*")):
        relative = path.relative_to(cache_root).as_posix()
        if not path.is_file() or relative.startswith(".") or ".partial" in relative:
            continue
        data = path.read_bytes()
        if path.name == MANIFEST_NAME:
            manifest = json.loads(data)
            manifest["created"] = None
            data = json.dumps(manifest, sort_keys=True).encode()
        files[relative] = data
    return files


def test_local_and_process_executors_give_identical_entries_and_rows(tmp_path):
    plan = Plan(value_jobs(tmp_path / "events.log"))  # one plan, so the same keys for both
    results = {}
    for name, executor in (("local", LocalExecutor()), ("process", ProcessExecutor(2))):
        with ResultsDB(tmp_path / f"{name}.sqlite") as db:
            report = run_plan(plan, Cache(tmp_path / name), db, executor=executor, progress=False)
            tables = {
                "pairs": db.pairs().drop(columns="run_id").sort_values("model_a"),
                "models": db.models().drop(columns="run_id").sort_values("model_id"),
                "scalars": db.scalars().drop(columns="run_id").sort_values("name"),
            }
        executor.shutdown()
        assert report.run == 4 and report.ok, report.summary()
        results[name] = (snapshot(tmp_path / name), tables)
    (local_files, local_tables), (process_files, process_tables) = (
        results["local"],
        results["process"],
    )
    assert len(local_files) == 4 * 3 and local_files == process_files
    for table, frame in local_tables.items():
        assert len(frame) == 4
        assert frame.reset_index(drop=True).equals(process_tables[table].reset_index(drop=True))


@pytest.mark.slow  # kills and restarts worker processes
def test_a_worker_that_dies_fails_only_its_own_job(tmp_path):
    log = tmp_path / "log"
    jobs = [
        Job("train/crash", "runner_jobs:crash", {"log": str(log)}),
        Job(
            "train/slow",
            "runner_jobs:resumable",
            {"log": str(log), "hold": str(tmp_path / "no-hold"), "ready": str(tmp_path / "ready")},
        ),
        Job("train/c", WRITE, {"value": 3, "log": str(log)}),
        Job("train/d", WRITE, {"value": 4, "log": str(log)}, deps=["train/crash"]),
    ]
    executor = ProcessExecutor(2)
    report = run_plan(Plan(jobs), Cache(tmp_path / "cache"), executor=executor, progress=False)
    executor.shutdown()
    assert report.status == {
        "train/crash": "failed",
        "train/slow": "run",
        "train/c": "run",
        "train/d": "skipped",
    }
    assert "died" in report.failures["train/crash"].error


class _ResultLostAfterCommit(LocalExecutor):
    """Runs ``job_id``'s first attempt to the end (its artifact committed), then reports its
    worker lost: what a process pool does when another worker dies before this job's result
    came back."""

    def __init__(self, job_id: str) -> None:
        self.job_id, self.lost = job_id, False

    def result(self, handle):
        outcome = super().result(handle)
        if handle.task.job.id == self.job_id and not self.lost:
            self.lost = True
            assert outcome.outcome == "run"  # committed before the "crash"
            return TaskResult(self.job_id, "failed", error="worker died", worker_lost=True)
        return outcome


def test_a_lost_job_whose_artifact_was_committed_is_reported_run_not_cached(tmp_path):
    """The race behind a process pool breaking: a job commits its artifact, then another
    worker dies before the job's result comes back. Its retry finds the artifact; it was
    computed by this run, so the report says run (it said cached before)."""
    log = str(tmp_path / "log")
    jobs = [Job("train/a", WRITE, {"value": 1, "log": log}),
            Job("train/b", WRITE, {"value": 2, "log": log})]
    executor = _ResultLostAfterCommit("train/a")
    report = run_plan(Plan(jobs), Cache(tmp_path / "cache"), executor=executor, progress=False)
    assert executor.lost
    assert report.status == {"train/a": "run", "train/b": "run"} and report.run == 2
    again = run_plan(Plan(jobs), Cache(tmp_path / "cache"), progress=False)
    assert again.status == {"train/a": "cached", "train/b": "cached"}


def test_worker_processes_limit_threads_to_each_job_cpus(tmp_path):
    code = """
        import os
        from threadpoolctl import threadpool_info
        from simfunc.io import atomic_write_json
        def probe(ctx):
            import torch
            atomic_write_json(ctx.output_dir / "threads.json", {
                "torch": torch.get_num_threads(), "omp": os.environ.get("OMP_NUM_THREADS"),
                "pools": sorted({pool["num_threads"] for pool in threadpool_info()}),
            })
    """
    (tmp_path / "thread_probe.py").write_text(textwrap.dedent(code))
    jobs = [
        Job(f"probe/{cpus}", "thread_probe:probe", {"cpus": cpus}, resources={"cpus": cpus})
        for cpus in (2, 1)
    ]
    sys.path.insert(0, str(tmp_path))
    try:
        executor = ProcessExecutor(1)  # one worker runs both jobs, one after the other
        report = run_plan(Plan(jobs), Cache(tmp_path / "cache"), executor=executor, progress=False)
        executor.shutdown()
    finally:
        sys.path.remove(str(tmp_path))
    assert report.ok, report.summary()
    for cpus in (2, 1):
        threads = json.loads((report.entries[f"probe/{cpus}"] / "threads.json").read_text())
        assert threads == {"torch": cpus, "omp": str(cpus), "pools": [cpus]}


# -- interruptions ---------------------------------------------------------------------------------

DRIVER = """
    import sys
    from simfunc.runner import Job, Plan, ProcessExecutor, LocalExecutor, run_plan
    from simfunc.store import Cache

    def jobs(tmp):
        common = {{"log": tmp + "/log"}}
        return [
            Job("train/first", "runner_jobs:write_value", {{"value": 1, **common}}),
            Job("train/long", "runner_jobs:resumable",
                {{**common, "hold": tmp + "/hold", "ready": tmp + "/ready"}}, deps=["train/first"]),
            Job("compare/last", "runner_jobs:write_value", {{"value": 2, **common}},
                deps=["train/long"]),
        ]

    if __name__ == "__main__":
        import faulthandler, signal
        faulthandler.register(signal.SIGUSR1)  # a hung driver shows its stacks to the test
        # the test's SIGINT stands for Ctrl-C; a shell that ran the tests in the background
        # (CI) may have left SIGINT ignored, and Python then installs no handler of its own
        signal.signal(signal.SIGINT, signal.default_int_handler)
        executor = {executor}
        run_plan(Plan(jobs({tmp!r})), Cache({tmp!r} + "/cache"), executor=executor, progress=False)
        print("finished")
"""


def start_driver(tmp_path: Path, executor: str) -> subprocess.Popen:
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER.format(executor=executor, tmp=str(tmp_path))))
    (tmp_path / "hold").touch()
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=SUBPROCESS_ENV,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def communicate_or_show_stacks(process: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """``process.communicate(timeout)``; if it does not end, fail with the stacks of its threads
    (the driver scripts register faulthandler on SIGUSR1) instead of a bare timeout."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)
        time.sleep(2)
        process.kill()
        try:
            stdout, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired as partial:  # its workers still hold the pipes open
            stdout, stderr = partial.stdout, partial.stderr
        raise AssertionError(
            f"the driver did not end within {timeout} s; its stacks and output:\n{stderr}\n"
            f"{stdout}"
        ) from None


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"driver ended early: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the job never became ready")
        time.sleep(0.05)


def rerun_and_check_resume(tmp_path: Path) -> None:
    (tmp_path / "hold").unlink()
    sys.path.insert(0, str(tmp_path))
    try:
        from driver import jobs  # the same plan the killed driver ran
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("driver", None)
    before = len(events(tmp_path / "log"))
    report = run_plan(Plan(jobs(str(tmp_path))), Cache(tmp_path / "cache"), progress=False)
    assert report.status == {"train/first": "cached", "train/long": "run", "compare/last": "run"}
    assert events(tmp_path / "log")[before:] == [
        "start train/long",
        "resume train/long",
        "done train/long",
        "run compare/last",
    ]
    entry = report.entries["train/long"]
    assert sorted(path.name for path in entry.iterdir()) == [
        MANIFEST_NAME,
        "part1.npz",
        "value.json",
    ]
    assert json.loads((entry / "value.json").read_text())["value"] == sum(range(1000))


@pytest.mark.slow  # kills and restarts worker processes
def test_a_killed_run_resumes_and_reruns_only_the_interrupted_job(tmp_path):
    driver = start_driver(tmp_path, "LocalExecutor()")
    wait_for(tmp_path / "ready", driver)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    assert events(tmp_path / "log") == ["run train/first", "start train/long", "part1 train/long"]
    staging = next((tmp_path / "cache" / "train").glob("*.partial"))
    assert [path.name for path in staging.iterdir()] == ["part1.npz"]
    rerun_and_check_resume(tmp_path)


@pytest.mark.slow  # kills and restarts worker processes
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_worker_jobs_keeps_their_staging_and_reports(tmp_path, stop):
    """Ctrl-C, or SIGTERM (``kill``, a batch system's time limit), to the driver only: it must
    interrupt its workers itself. A worker left running would, once the rerun lifts the hold,
    finish its job beside the rerun's and break the resume check's log."""
    driver = start_driver(tmp_path, "ProcessExecutor(2)")
    wait_for(tmp_path / "ready", driver)
    driver.send_signal(stop)
    stdout, stderr = communicate_or_show_stacks(driver, timeout=60)
    assert driver.returncode != 0 and "finished" not in stdout
    assert "KeyboardInterrupt" in stderr
    assert "interrupted: 1 run, 0 cached" in stderr and "rerun to resume" in stderr
    assert "compare/last" not in " ".join(events(tmp_path / "log"))
    staging = next((tmp_path / "cache" / "train").glob("*.partial"))
    assert [path.name for path in staging.iterdir()] == ["part1.npz"]
    rerun_and_check_resume(tmp_path)


def bar_placements(tmp_path: Path, n_jobs: int, progress: bool) -> list[dict]:
    """Run n_jobs bar-drawing jobs on 2 worker processes; where each job's bar went."""
    jobs = [Job(f"show/{i}", "runner_jobs:show_progress", {"i": i}) for i in range(n_jobs)]
    with ProcessExecutor(2) as executor:
        report = run_plan(Plan(jobs), Cache(tmp_path), executor=executor, progress=progress)
    assert report.ok, report.summary()
    return [load_json(Path(report.entries[job.id]) / "placement.json") for job in jobs]


def test_job_bars_show_in_worker_processes_each_on_its_own_line(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("SIMFUNC_PROGRESS", "bars")  # as on a terminal (workers inherit it)
    placements = bar_placements(tmp_path, 4, progress=True)
    assert all(p["drawn"] and p["shown"] and p["backend"] == "tqdm" for p in placements)
    line_of = {p["pid"]: p["position"] for p in placements}
    assert sorted(set(line_of.values())) == sorted(line_of.values())  # a line per worker
    assert set(line_of.values()) <= {1, 2}  # below the plan's bar (line 0)
    error = capfd.readouterr().err
    assert "jobs:" in error and "show/" in error  # the plan's bar and the jobs' bars


def test_without_progress_workers_draw_nothing(tmp_path, capfd):
    assert not any(p["drawn"] for p in bar_placements(tmp_path, 2, progress=False))
    assert "show/" not in capfd.readouterr().err


def test_written_to_a_log_progress_is_a_plain_line_per_finished_job(tmp_path, capfd, monkeypatch):
    monkeypatch.delenv("SIMFUNC_PROGRESS", raising=False)  # capfd's stderr is not a terminal
    placements = bar_placements(tmp_path, 4, progress=True)
    assert all(p["drawn"] and p["shown"] for p in placements)
    error = capfd.readouterr().err
    assert "\r" not in error and "\x1b" not in error  # no redraws, no cursor movement
    finished = [line for line in error.splitlines() if ": run in " in line]
    assert len(finished) == 4, error
    for line in finished:
        assert re.fullmatch(r"show/\d: run in \d+\.\d s; [1-4]/4 jobs done \(\d run, "
                            r"0 cached, 0 failed, 0 skipped\), \d+\.\d s", line), line
    assert {line.split(":")[0] for line in finished} == {f"show/{i}" for i in range(4)}
    assert "4/4 jobs done (4 run" in error
    # a rerun finds every job cached: no line per job (at most a line every few seconds)
    bar_placements(tmp_path, 4, progress=True)
    assert ": run in " not in capfd.readouterr().err


def test_a_line_bar_writes_whole_lines_at_most_every_interval(monkeypatch):
    import io

    from simfunc import progress

    stream = io.StringIO()
    clock = iter(float(t) for t in range(100))
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    bar = progress.LineProgress(total=10, desc="epoch 1/2", unit="batch", file=stream,
                                interval=3.0)  # made at t=0
    for _ in range(10):  # t = 1, 2, ..., 10: a line at t=3, 6, 9
        bar.update(1)
    bar.set_postfix(loss=0.25)
    bar.close()  # t=11, lived 3 s and more: a final line
    lines = stream.getvalue().splitlines(keepends=True)
    assert all(line.endswith("\n") and "\r" not in line for line in lines)
    assert [line.rstrip() for line in lines] == [
        "epoch 1/2: 3/10 batch (30%), 3.0 s",
        "epoch 1/2: 6/10 batch (60%), 6.0 s",
        "epoch 1/2: 9/10 batch (90%), 9.0 s",
        "epoch 1/2: 10/10 batch (100%) [loss=0.25], 11.0 s",
    ]
    quiet = progress.LineProgress(range(3), file=stream, disable=True)
    assert list(quiet) == [0, 1, 2] and quiet.n == 3
    short = io.StringIO()
    assert list(progress.LineProgress(range(2), file=short, interval=50.0)) == [0, 1]
    assert short.getvalue() == ""  # a short stage says nothing; its job's line says it ended


def test_the_bar_style_follows_the_terminal_unless_the_environment_says(monkeypatch):
    import io

    from simfunc import progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("SIMFUNC_PROGRESS", raising=False)
    assert progress.bar_style(Terminal()) == "bars"
    assert progress.bar_style(io.StringIO()) == "lines"
    monkeypatch.setenv("SIMFUNC_PROGRESS", "lines")
    assert progress.bar_style(Terminal()) == "lines"
    assert isinstance(progress.progress_bar(total=2), progress.LineProgress)
    monkeypatch.setenv("SIMFUNC_PROGRESS", "bars")
    assert progress.bar_style(io.StringIO()) == "bars"
    assert not isinstance(progress.progress_bar(total=2, disable=True), progress.LineProgress)


def test_a_screen_lock_held_by_a_dead_process_delays_bars_but_never_freezes_them():
    import multiprocessing

    from simfunc.progress import ScreenLock

    context = multiprocessing.get_context("spawn")
    raw = context.RLock()
    lock = ScreenLock(raw, timeout=0.2)
    holder = context.Process(target=_hold_forever, args=(raw,))
    holder.start()
    try:
        deadline = time.monotonic() + 30
        while raw.acquire(timeout=0.05):  # until the holder has it
            raw.release()
            assert time.monotonic() < deadline, "the holder never took the lock"
            time.sleep(0.05)
        holder.kill()  # dies holding it, as a worker killed while drawing would
        holder.join()
        started = time.monotonic()
        with lock, lock:  # re-entrant, and gives up waiting instead of hanging
            pass
        assert time.monotonic() - started < 5
    finally:
        if holder.is_alive():
            holder.kill()
    free = ScreenLock(context.RLock())
    with free:  # a free lock is really taken: another process cannot have it meanwhile
        assert free._stack() == [True]
    assert free._stack() == []


def _hold_forever(lock) -> None:
    lock.acquire()
    time.sleep(600)


@pytest.mark.slow  # kills and restarts worker processes
def test_workers_stay_interruptible_when_the_driver_was_started_with_sigint_ignored(tmp_path):
    """A shell's background job (or nohup) starts with SIGINT ignored, and its children inherit
    that; the workers must still stop when the driver interrupts them on Ctrl-C."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with ProcessExecutor(1) as executor:
            report = run_plan(Plan([Job("signal/a", "runner_jobs:report_sigint", {})]),
                              Cache(tmp_path), executor=executor, progress=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert report.ok, report.summary()
    reported = load_json(Path(report.entries["signal/a"]) / "sigint.json")
    assert reported["handler"] == "default_int_handler"


# -- several plans as one (run_plans) -----------------------------------------------------------


def _two_plans(log: Path) -> tuple[Plan, Plan]:
    common = {"log": str(log)}
    first = Plan(value_jobs(log))
    second = Plan([
        Job("train/x", WRITE, {"value": 7, **common}, record=RECORD),
        # the same configuration as the first plan's train/a: one artifact, computed once
        Job("train/twin-of-a", WRITE, {"value": 1, **common}, record=RECORD),
        Job("compare/y", WRITE, {"value": 5, **common}, deps=["train/x", "train/twin-of-a"],
            record=RECORD),
    ])
    return first, second


@pytest.mark.parametrize("executor", ["local", "process"])
def test_run_plans_records_each_plan_in_its_own_database_and_reports_each(tmp_path, executor):
    log = tmp_path / "log"
    first, second = _two_plans(log)
    finished = []
    with ResultsDB(tmp_path / "one.sqlite") as one, ResultsDB(tmp_path / "two.sqlite") as two:
        reports = run_plans(
            [first, second], Cache(tmp_path / "cache"), [one, two],
            executor=LocalExecutor() if executor == "local" else ProcessExecutor(2),
            progress=False,
            on_plan_done=lambda index, report: finished.append((index, dict(report.status))))
        scalars_one = dict(one.scalars()[["name", "value"]].values.tolist())
        scalars_two = dict(two.scalars()[["name", "value"]].values.tolist())
    assert scalars_one == {"train/a": 1, "train/b": 2, "extract/c": 6, "compare/d": 10}
    assert scalars_two == {"train/x": 7, "train/twin-of-a": 1, "compare/y": 13}
    assert set(reports[0].status) == set(first.order)
    assert set(reports[1].status) == set(second.order)
    assert reports[0].ok and reports[1].ok
    assert sorted(reports[1].status.values()) == ["cached", "run", "run"]  # the twin is cached
    # each plan reported once, as soon as its last job settled, with its own jobs only
    assert sorted(index for index, _ in finished) == [0, 1]
    assert {index: status for index, status in finished} == {0: reports[0].status,
                                                             1: reports[1].status}
    runs = [line for line in events(log) if line.startswith("run")]
    assert len(runs) == 6  # 4 + 3 jobs, the twin computed once


def test_run_plans_a_failure_skips_only_its_own_plans_dependents(tmp_path):
    log = tmp_path / "log"
    failing = Plan([
        Job("train/bad", "runner_jobs:fail", {"log": str(log)}),
        Job("extract/needs-bad", WRITE, {"value": 2, "log": str(log)}, deps=["train/bad"]),
    ])
    healthy = Plan(value_jobs(log))
    bad, good = run_plans([failing, healthy], Cache(tmp_path / "cache"), progress=False)
    assert bad.status == {"train/bad": "failed", "extract/needs-bad": "skipped"}
    assert good.ok and good.run == 4


def test_run_plans_rejects_a_job_id_in_two_plans_and_a_wrong_number_of_databases(tmp_path):
    log = tmp_path / "log"
    with pytest.raises(InputError, match="unique"):
        run_plans([Plan(value_jobs(log)), Plan(value_jobs(log))], Cache(tmp_path / "c"),
                  progress=False)
    with pytest.raises(InputError, match="dbs"):
        run_plans([Plan(value_jobs(log))], Cache(tmp_path / "c"), dbs=[None, None],
                  progress=False)
    with pytest.raises(InputError, match="plans"):
        run_plans([], Cache(tmp_path / "c"), progress=False)
