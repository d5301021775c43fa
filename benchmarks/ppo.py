"""PPO on MiniGrid Empty: throughput, and how many steps / seconds until agents are solved.

    PYTHONPATH=src python benchmarks/ppo.py            # full: ~20-30 min on 2 quiet cores
    PYTHONPATH=src python benchmarks/ppo.py --quick    # smoke size: about a minute
    PYTHONPATH=src python benchmarks/ppo.py --kernels  # part 1b only: about 4 minutes

Part 1, throughput: environment steps per second of ``simfunc.train.ppo.train_agent``
(time inside SB3's ``learn``: rollouts and updates, evaluations excluded) for every grid
size and both variants at the default settings (n_envs 8, 1 torch thread), then for
n_envs in {4, 8, 16} × torch threads in {1, 2} on 8×8. The reference for the thread
setting is the same run with 2 threads; the ratio is printed.

Part 1b, the rollouts' convolutions: the same throughput with the policy's convolutions as
simfunc runs them (``SmallBatchConv2d``: PyTorch's native kernel for the rollouts' small
batches) against the reference, oneDNN for every batch (plain ``nn.Conv2d``, as before),
measured alternately in the same process; the ratio is printed (``--kernels``: this part only).

Part 2, learning curves: agents trained with a save point every ``interval`` steps; at each
point the recorded mean return (stochastic policy, 16 seeded episodes). Printed per run:
the first saved step at which the agent is mediocre (R > 0.2) and optimal (R > 0.8), the
training seconds to get there, and the quality at every point, which is what sizes the
study's step budgets and save points.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from simfunc.machine import this_machine
from simfunc.nets import small_batch_conv
from simfunc.studies.minigrid import OPTIMAL_RETURN, POOR_RETURN, quality
from simfunc.train.ppo import PPOConfig, train_agent

# steps until a plain agent is usually solved (measured), and the save interval to use
CURVE_BUDGETS = {5: (32768, 2048), 6: (49152, 2048), 8: (65536, 4096), 16: (491520, 16384)}


def throughput(size: int, network: str, steps: int, n_envs: int, threads: int) -> float:
    """Environment steps per second of PPO training (evaluations excluded)."""
    rollout = n_envs * PPOConfig().n_steps
    steps = max(rollout, steps // rollout * rollout)
    with tempfile.TemporaryDirectory() as directory:
        (record,) = train_agent(
            size, 0, steps, out_dir=directory, network=network, n_envs=n_envs,
            num_threads=threads, eval_episodes=1, progress=False,
        )  # fmt: skip
        seconds = json.loads(record.path.with_suffix(".json").read_text())["train_seconds"]
    return steps / seconds


@contextlib.contextmanager
def onednn_for_every_batch():
    """The reference of part 1b: every convolution through nn.Conv2d (oneDNN for batches of
    more than one example), as before ``SmallBatchConv2d``."""
    saved = small_batch_conv._native_conv2d
    small_batch_conv._native_conv2d = None
    try:
        yield
    finally:
        small_batch_conv._native_conv2d = saved


def kernels(steps: int, sizes: tuple[int, ...], envs: tuple[int, ...], repeats: int) -> list:
    """Part 1b: steps/s with the native small-batch kernel and with oneDNN, alternately."""
    print(f"\n## The rollouts' convolutions, {steps} steps per run, 1 thread, best of {repeats}")
    print(f"{'size':>5} {'variant':>11} {'n_envs':>6} {'native':>9} {'oneDNN':>9} {'ratio':>6}")
    rows = []
    for size in sizes:
        for network in ("plain", "bottleneck"):
            for n_envs in envs:
                native, onednn = [], []
                for _ in range(repeats):
                    native.append(throughput(size, network, steps, n_envs=n_envs, threads=1))
                    with onednn_for_every_batch():
                        onednn.append(throughput(size, network, steps, n_envs=n_envs, threads=1))
                row = {"size": size, "network": network, "n_envs": n_envs,
                       "native": max(native), "onednn": max(onednn)}
                rows.append(row)
                print(f"{size:>5} {network:>11} {n_envs:>6} {row['native']:>9.0f} "
                      f"{row['onednn']:>9.0f} {row['native'] / row['onednn']:>6.2f}", flush=True)
    return rows


def curve(size: int, network: str, seed: int, budget: int, interval: int) -> dict:
    """Train to ``budget`` saving every ``interval`` steps; the mean return at each point."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        records = train_agent(
            size, seed, budget, out_dir=directory, network=network,
            save_at=range(interval, budget, interval), eval_episodes=16, progress=False,
        )  # fmt: skip
        seconds = [
            json.loads(r.path.with_suffix(".json").read_text())["train_seconds"] for r in records
        ]
    points = [
        {"timesteps": r.timesteps, "mean_return": round(r.mean_return, 3), "quality": quality(r.mean_return),
         "train_seconds": s}
        for r, s in zip(records, seconds)
    ]  # fmt: skip

    def first(threshold: float) -> dict | None:
        return next((p for p in points if p["mean_return"] > threshold), None)

    return {
        "size": size,
        "network": network,
        "seed": seed,
        "points": points,
        "mediocre_at": first(POOR_RETURN),
        "optimal_at": first(OPTIMAL_RETURN),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke size (about a minute)")
    parser.add_argument("--sizes", type=int, nargs="*", help="grid sizes for the curves")
    parser.add_argument("--seeds", type=int, nargs="*", help="seeds for the curves")
    parser.add_argument("--curves-only", action="store_true", help="skip the throughput part")
    parser.add_argument("--kernels", action="store_true",
                        help="only part 1b: the rollouts' convolution kernels")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    print(f"# {this_machine().describe()}, python {platform.python_version()}")
    results: dict = {"throughput": [], "kernels": [], "settings": [], "curves": []}
    if args.kernels:
        results["kernels"] = kernels(4096 if args.quick else 16384, (5, 8), (8, 16),
                                     repeats=1 if args.quick else 3)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return

    if not args.curves_only:
        steps = 4096 if args.quick else 16384
        print(f"\n## Throughput, {steps} steps per run (n_envs 8, 1 thread)")
        print(f"{'size':>5} {'variant':>11} {'steps/s':>9}")
        for size in (5, 8) if args.quick else (5, 6, 8, 16):
            for network in ("plain", "bottleneck"):
                rate = throughput(size, network, steps, n_envs=8, threads=1)
                row = {"size": size, "network": network, "rate": rate}
                results["throughput"].append(row)
                print(f"{size:>5} {network:>11} {rate:>9.0f}", flush=True)

        results["kernels"] = kernels(steps, (5, 8) if args.quick else (5, 6, 8, 16),
                                     (8,) if args.quick else (8, 16), repeats=1)

        print(f"\n## Settings on 8x8 plain, {steps} steps per run")
        print(f"{'n_envs':>6} {'1 thread':>9} {'2 threads':>9} {'ratio 1/2':>9}")
        for n_envs in (8,) if args.quick else (4, 8, 16):
            one = throughput(8, "plain", steps, n_envs=n_envs, threads=1)
            two = throughput(8, "plain", steps, n_envs=n_envs, threads=2)
            results["settings"].append({"n_envs": n_envs, "threads_1": one, "threads_2": two})
            print(f"{n_envs:>6} {one:>9.0f} {two:>9.0f} {one / two:>9.2f}", flush=True)

    sizes = args.sizes or ([5] if args.quick else [5, 6, 8, 16])
    seeds = args.seeds if args.seeds is not None else ([0] if args.quick else [0, 1])
    variants = ("plain",) if args.quick else ("plain", "bottleneck")
    print("\n## Learning curves (mean return of 16 sampled episodes at each save point)")
    for size in sizes:
        budget, interval = CURVE_BUDGETS[size]
        if args.quick:
            budget = min(budget, 16384)
        for network in variants:
            for seed in seeds if size != 16 or args.sizes else seeds[:1]:
                run = curve(size, network, seed, budget, interval)
                results["curves"].append(run)
                label = f"{size}x{size} {network} seed {seed}"
                reached = []
                for name in ("mediocre_at", "optimal_at"):
                    point = run[name]
                    reached.append(
                        f"{name.split('_')[0]} at {point['timesteps']} steps "
                        f"({point['train_seconds']:.0f} s)" if point else f"never {name[:-3]}"
                    )
                print(f"{label}: {', '.join(reached)}; run {run['wall_seconds']} s", flush=True)
                print("    " + " ".join(
                    f"{p['timesteps'] // 1024}k:{p['mean_return']:.2f}" for p in run["points"]
                ), flush=True)  # fmt: skip

    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
