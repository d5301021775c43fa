"""The executors side by side: one plan, run in the driver, in 2 worker processes, and on Ray.

    PYTHONPATH=src python benchmarks/executors.py [--workers 2] [--trivial 200]

1. **Training**: a plan of 16 independent jobs, each training a small digits classifier with
   ``simfunc.train.supervised`` through the studies' own ``train/`` job (8 seeds of ``cnn`` for
   2 epochs and of ``mlp`` for 12, at 16x16: about 1-2 s each on one thread), with a results
   database as in a study. Run with the local executor (in the driver, one job at a time), the
   process executor (``--jobs 2``: 2 spawned worker processes, their start-up included) and the
   Ray executor (a local Ray instance with 2 CPUs; its start-up is timed on its own and not
   included). Each run starts from an empty cache. Printed: the wall time of each, and the
   speed-up over the local executor.
2. **Per-task overhead**: a plan of ``--trivial`` jobs that each sleep 20 ms and write one small
   file. Ideal wall time = jobs x 20 ms / parallel workers; the overhead per task is
   (wall - ideal) / jobs: what the runner, the cache commit and the executor add to every job.
3. **Ray start-up**: starting the local Ray instance (``ray.init``) and shutting it down.

Ray must be installed (``pip install simfunc[ray]``). The job functions of part 2 live in this
file, which the worker processes import as the module ``executors``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from simfunc.runner import (  # noqa: E402
    Executor,
    Job,
    LocalExecutor,
    Plan,
    ProcessExecutor,
    RayExecutor,
    run_plan,
)
from simfunc.io import atomic_write_json  # noqa: E402
from simfunc.store import Cache, ResultsDB  # noqa: E402

SLEEP = 0.02


def sleep_job(ctx) -> None:
    """A trivial job: sleep, then write one small file."""
    time.sleep(ctx.config["seconds"])
    atomic_write_json(ctx.output_dir / "done.json", {"index": ctx.config["index"]})


def training_plan() -> Plan:
    from simfunc.studies.classifier_jobs import ModelRecord, train_job
    from simfunc.train.supervised import TrainConfig

    jobs = []
    for arch, epochs in (("cnn", 2), ("mlp", 12)):
        for seed in range(8):
            config = TrainConfig(arch=arch, dataset="digits", image_size=16, epochs=epochs,
                                 seed=seed, eval_each_epoch=False)
            models = [ModelRecord(f"{arch}-{seed}")]
            jobs.append(train_job(f"train/{arch}-s{seed}", config, models))
    return Plan(jobs)


def trivial_plan(count: int) -> Plan:
    return Plan(
        Job(f"sleep/{index}", "executors:sleep_job", {"seconds": SLEEP, "index": index})
        for index in range(count)
    )


def timed_run(plan: Plan, executor: Executor, work: Path, name: str) -> tuple[float, float]:
    """Wall time of one run from an empty cache, and the jobs' summed compute time."""
    cache_dir = work / f"cache-{name}"
    shutil.rmtree(cache_dir, ignore_errors=True)
    with ResultsDB(work / f"{name}.sqlite") as db:
        started = time.perf_counter()
        report = run_plan(plan, Cache(cache_dir), db, executor=executor, progress=False)
        wall = time.perf_counter() - started
    if not report.ok or report.run != len(plan):
        sys.exit(f"benchmarks/executors.py: the {name} run failed:\n{report.summary()}")
    return wall, sum(report.seconds.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes and Ray CPUs (default 2)")
    parser.add_argument("--trivial", type=int, default=200,
                        help="jobs in the per-task overhead plan (default 200)")
    args = parser.parse_args()
    workers = args.workers
    ray_dir = tempfile.mkdtemp(prefix="sfray-", dir="/tmp")  # short: Ray's socket paths
    work = Path(tempfile.mkdtemp(prefix="simfunc-executors-"))
    try:
        import ray

        print(f"{os.cpu_count()} CPUs, Ray {ray.__version__}, {workers} workers / Ray CPUs")
        ray_executor = RayExecutor(num_cpus=workers, temp_dir=ray_dir, log_to_driver=False)
        started = time.perf_counter()
        ray_executor.capacity  # starts the local instance
        ray_start = time.perf_counter() - started
        executors = {
            "local (1 process)": lambda: LocalExecutor(),
            f"process (--jobs {workers})": lambda: ProcessExecutor(workers),
            f"ray ({workers} CPUs)": lambda: ray_executor,
        }
        for title, plan, parallel in (
            ("16 training jobs", training_plan(), None),
            (f"{args.trivial} trivial jobs ({SLEEP * 1000:.0f} ms each)",
             trivial_plan(args.trivial), SLEEP * args.trivial),
        ):
            print(f"\n{title}")
            header = f"{'executor':<22}{'wall s':>9}{'job s':>9}{'speed-up':>10}"
            header += f"{'ideal s':>9}{'overhead/task ms':>18}" if parallel else ""
            print(header)
            print("-" * len(header))
            baseline = None
            for name, make in executors.items():
                executor = make()
                wall, compute = timed_run(plan, executor, work, name.split()[0])
                if executor is not ray_executor:
                    executor.shutdown()
                baseline = baseline or wall
                line = f"{name:<22}{wall:>9.2f}{compute:>9.2f}{baseline / wall:>9.2f}x"
                if parallel:
                    ideal = parallel / (1 if name.startswith("local") else workers)
                    line += f"{ideal:>9.2f}{(wall - ideal) / len(plan) * 1000:>18.2f}"
                print(line, flush=True)
        started = time.perf_counter()
        ray_executor.shutdown()
        ray_stop = time.perf_counter() - started
        print(f"\nRay local instance: start {ray_start:.2f} s, shutdown {ray_stop:.2f} s "
              "(not in the wall times above)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(ray_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
