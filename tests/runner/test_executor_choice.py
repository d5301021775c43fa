"""Choosing an executor: Ray stays optional (never imported unless chosen, a clear error
without it) and the command line checks its executor options. Needs no Ray installed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from simfunc import InputError
from simfunc.cli import main
from simfunc.runner import RayExecutor

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a fresh interpreter imports simfunc
def test_nothing_imports_ray_unless_the_ray_executor_is_chosen(tmp_path):
    code = f"""
        import sys
        import simfunc, simfunc.runner, simfunc.cli, simfunc.studies.framework
        from simfunc.cli import build_parser
        from simfunc.runner import Job, Plan, run_plan
        from simfunc.store import Cache
        build_parser()
        config = {{"value": 1, "log": {str(tmp_path / "log")!r}}}
        jobs = [Job("train/a", "runner_jobs:write_value", config)]
        report = run_plan(Plan(jobs), Cache({str(tmp_path / "cache")!r}), progress=False)
        assert report.ok, report.summary()
        print(sorted(name for name in sys.modules if name == "ray" or name.startswith("ray.")))
    """
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests" / "runner")])}
    finished = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                              capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"


def test_without_ray_the_ray_executor_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    with pytest.raises(InputError, match=r"pip install simfunc\[ray\]"):
        RayExecutor()
    status = main(["run", "architectures", "--executor", "ray", "--out", str(tmp_path / "runs"),
                   "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1
    assert error.startswith("simfunc run: error: the Ray executor needs Ray")
    assert "pip install simfunc[ray]" in error
    assert not (tmp_path / "cache").exists()  # stopped before any work


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--ray-address", "auto"], "--ray-address needs --executor ray"),
        (["--executor", "ray", "--ray-address", "auto", "--jobs", "2"], "a cluster joined"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--max-retries", "3"], "--max-retries needs --executor ray"),
        (["--executor", "ray", "--max-retries", "-1"], "--max-retries must be 0 or more"),
    ],
)
def test_the_cli_checks_its_executor_options(options, message, tmp_path, capsys):
    status = main(["reproduce", "--studies", "architectures", *options,
                   "--out", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache")])
    assert status == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()


def test_max_retries_reaches_the_ray_executor(monkeypatch):
    from simfunc.cli import build_parser
    from simfunc.cli.run import _executor

    made = {}
    monkeypatch.setattr("simfunc.runner.ray_executor.RayExecutor",
                        lambda **kwargs: made.update(kwargs) or "executor")
    args = build_parser().parse_args(["run", "architectures", "--executor", "ray",
                                      "--max-retries", "5", "--jobs", "2"])
    assert _executor(args) == "executor"
    assert made == {"address": None, "num_cpus": 2, "max_retries": 5}
