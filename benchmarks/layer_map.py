"""Layer map cost: simfunc's one-pass map against the forward passes alone and per-pair loops.

The map of issue 13: a CIFAR-style ResNet-18 (width 0.25; the stem, every residual block's
first conv-BN-ReLU and its output, the pooled features and the logits: 19 layers) against a
VGG-16 with batch norm (width 0.25; its 13 conv blocks, features and logits: 15 layers) on
n 32×32 images (default 10,000: the shared CIFAR-10 test set when it is there, else random
images), batch 256, on the CPU. Every variant runs in its own subprocess, on the same data
with the same seeded weights, and reports its time and peak resident memory (RSS, which counts
torch's allocations too):

* ``forward``   -- both models' forward passes alone (the reference);
* ``map``       -- ``simfunc.layer_map`` (minibatch CKA: the layers are too wide for exact);
* ``per-pair``  -- what a loop over pairs does: for a pair, extract the two layers over the data
  (two forward passes) and call the dense ``rep.linear_cka``. Timed on ``--pairs`` sampled pairs
  on the first ``--dense-n`` images, extrapolated to all pairs, and set against the map on the
  same images;
* peers, when installed (``--peers DIR``: a folder with ``torch_cka``, ``cka`` (pytorch-cka)
  and ``ckatorch`` installed with ``pip install --no-deps --target DIR``): each library's map
  over the first ``--peer-batches`` batches, extrapolated per batch to the whole data. Skipped
  if a library does not import or fails.

    python benchmarks/layer_map.py                      # the issue's setting (minutes)
    python benchmarks/layer_map.py --n 1024 --quick     # a smoke run
    python benchmarks/layer_map.py --peers /work/scratch-layermap/lib

Targets (issue 13): map ≤ 2× the forward passes; peak memory beyond the models (map RSS −
forward RSS) < 500 MB. Ratios are from the same run; the machine is shared, so absolute times
are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

_SOURCE = Path(__file__).resolve().parents[1] / "src"
if _SOURCE.is_dir():  # measure this checkout, not some installed copy
    sys.path.insert(0, str(_SOURCE))

RESNET_LAYERS = ["body.0"] + [
    name
    for stage in range(1, 5)
    for block in range(2)
    for name in (f"body.{stage}.{block}.conv1", f"body.{stage}.{block}")
] + ["features", "logits"]
VGG_LAYERS = [f"body.{i}" for i in (0, 1, 3, 4, 6, 7, 8, 10, 11, 12, 14, 15, 16)] + [
    "features", "logits"
]


def _models():
    from simfunc import nets

    resnet = nets.build("resnet18", 10, width=0.25, seed=0).eval()
    vgg = nets.build("vgg16", 10, width=0.25, seed=1).eval()
    return resnet, vgg


def _data(n: int, source: str):
    import numpy as np
    import torch

    if source == "cifar10":
        from simfunc.data import load

        data = load("cifar10", "test", data_root=os.environ.get("SIMFUNC_BENCH_DATA",
                                                                "/work/shared/data"))
        return data.normalized(slice(0, n))
    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.standard_normal((n, 3, 32, 32)).astype(np.float32))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------- the variants (children)


def run_forward(args) -> dict:
    import torch

    resnet, vgg = _models()
    data = _data(args.n, args.data)
    baseline = _peak_mb()
    start = time.perf_counter()
    with torch.inference_mode():
        for s in range(0, len(data), args.batch_size):
            batch = data[s : s + args.batch_size]
            resnet(batch)
            vgg(batch)
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb(), "base_mb": baseline}


def run_map(args) -> dict:
    from simfunc import layer_map

    resnet, vgg = _models()
    data = _data(args.n, args.data)
    baseline = _peak_mb()
    start = time.perf_counter()
    frame = layer_map(resnet, vgg, data, layers_a=RESNET_LAYERS, layers_b=VGG_LAYERS,
                      batch_size=args.batch_size, progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": _peak_mb(), "base_mb": baseline,
            "estimator": frame.attrs["estimator"], "shape": list(frame.shape),
            "values": frame.values.tolist(),
            "widths": [sum(frame.attrs["widths_a"].values()),
                       sum(frame.attrs["widths_b"].values())]}


def run_per_pair(args) -> dict:
    import numpy as np

    from simfunc import representational as rep
    from simfunc.extract import activations

    resnet, vgg = _models()
    data = _data(args.dense_n, args.data)
    rng = np.random.default_rng(0)
    pairs = [(RESNET_LAYERS[i], VGG_LAYERS[j])
             for i, j in zip(rng.choice(len(RESNET_LAYERS), args.pairs),
                             rng.choice(len(VGG_LAYERS), args.pairs))]
    start = time.perf_counter()
    for name_a, name_b in pairs:
        features_a = activations(resnet, data, [name_a], batch_size=args.batch_size)[name_a]
        features_b = activations(vgg, data, [name_b], batch_size=args.batch_size)[name_b]
        rep.linear_cka(features_a, features_b)
    per_pair = (time.perf_counter() - start) / len(pairs)
    total = per_pair * len(RESNET_LAYERS) * len(VGG_LAYERS)
    return {"seconds": total, "per_pair": per_pair, "pairs": pairs, "peak_mb": _peak_mb()}


def run_map_small(args) -> dict:
    args.n = args.dense_n
    return run_map(args)


def _loader(data, batch_size, dicts=False):
    import torch
    from torch.utils.data import DataLoader, Dataset, TensorDataset

    class Named(Dataset):
        def __init__(self, tensor):
            self.tensor = tensor

        def __len__(self):
            return len(self.tensor)

        def __getitem__(self, index):
            return {"x": self.tensor[index]}

    dataset = Named(data) if dicts else TensorDataset(data, torch.zeros(len(data)))
    return DataLoader(dataset, batch_size=batch_size, shuffle=False)


def run_peer(args) -> dict:
    import torch

    sys.path.insert(0, args.peers)
    resnet, vgg = _models()
    n = args.peer_batches * args.batch_size
    data = _data(n, args.data)
    start = time.perf_counter()
    note = ""
    try:
        values = _peer_values(args, resnet, vgg, data)
        shape = list(values.shape)
        if bool(torch.isnan(torch.as_tensor(values)).any()):
            note = "NaN in its map"
    except Exception as error:  # the library's own failure is part of the result
        note = f"failed: {type(error).__name__}: {str(error)[:120]}"
        shape = None
    seconds = time.perf_counter() - start
    batches_total = -(-args.n // args.batch_size)
    return {"seconds": seconds / args.peer_batches * batches_total, "measured_s": seconds,
            "peak_mb": _peak_mb(), "shape": shape, "note": note}


def _peer_values(args, resnet, vgg, data):
    import torch

    with torch.inference_mode():
        if args.variant == "torch-cka":
            from torch_cka import CKA

            cka = CKA(resnet, vgg, model1_layers=RESNET_LAYERS, model2_layers=VGG_LAYERS)
            cka.compare(_loader(data, args.batch_size))
            values = cka.export()["CKA"]
        elif args.variant == "pytorch-cka":
            from cka import compute_cka

            values = compute_cka(resnet, vgg, _loader(data, args.batch_size),
                                 layers=RESNET_LAYERS, model2_layers=VGG_LAYERS,
                                 progress=False)[0]
        else:
            from ckatorch import CKA

            cka = CKA(resnet, vgg, layers=RESNET_LAYERS, second_layers=VGG_LAYERS)
            values = cka(_loader(data, args.batch_size, dicts=True), epochs=1)
    return values


VARIANTS = {"forward": run_forward, "map": run_map, "per-pair": run_per_pair,
            "map-small": run_map_small, "torch-cka": run_peer, "pytorch-cka": run_peer,
            "ckatorch": run_peer}


# ---------------------------------------------------------------------------- the driver


def _child(variant: str, args) -> dict | None:
    command = [sys.executable, __file__, "--child", variant] + [
        f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
        if k not in ("child", "quick", "skip_peers", "variant") and v is not None
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        print(f"  {variant}: failed\n{result.stderr.strip()[-1500:]}")
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="images (default 10,000)")
    parser.add_argument("--data", choices=("cifar10", "random"), default=None,
                        help="default: cifar10 when the shared data is there, else random")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per variant")
    parser.add_argument("--pairs", type=int, default=3, help="pairs timed in the per-pair loop")
    parser.add_argument("--dense-n", type=int, default=2000,
                        help="images for the per-pair loop and its map reference")
    parser.add_argument("--peers", default=None, help="folder with the peer libraries")
    parser.add_argument("--peer-batches", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: targets not judged")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.data is None:
        shared = Path(os.environ.get("SIMFUNC_BENCH_DATA", "/work/shared/data")) / "cifar10"
        args.data = "cifar10" if shared.is_dir() else "random"
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        args.variant = args.child
        print(json.dumps(VARIANTS[args.child](args)))
        return 0

    print(f"layer map: ResNet-18 ({len(RESNET_LAYERS)} layers) vs VGG-16 ({len(VGG_LAYERS)} "
          f"layers), width 0.25, {args.n} {args.data} images 32x32, batch {args.batch_size}, "
          f"{args.threads} torch thread(s)")
    results = {}
    for variant in ("forward", "map", "per-pair", "map-small"):
        results[variant] = _child(variant, args)
        if results[variant]:
            print(f"  {variant:<12} {results[variant]['seconds']:9.1f} s   peak RSS "
                  f"{results[variant]['peak_mb']:7.0f} MB")
    if args.peers:
        for variant in ("torch-cka", "pytorch-cka", "ckatorch"):
            results[variant] = _child(variant, args)
            if results[variant]:
                print(f"  {variant:<12} {results[variant]['seconds']:9.1f} s (extrapolated from "
                      f"{args.peer_batches} batches, {results[variant]['measured_s']:.1f} s)   "
                      f"peak RSS {results[variant]['peak_mb']:7.0f} MB  "
                      f"{results[variant]['note']}")
    forward, mapped = results["forward"], results["map"]
    failures = []
    if forward and mapped:
        ratio = mapped["seconds"] / forward["seconds"]
        extra = mapped["peak_mb"] - forward["peak_mb"]
        print(f"\nmap estimator {mapped['estimator']}; total widths {mapped['widths']}")
        print(f"map / forward passes          {ratio:6.2f}x   (target <= 2)")
        print(f"peak memory beyond the models {extra:6.0f} MB  (map RSS - forward RSS; target "
              "< 500)")
        if ratio > 2:
            failures.append("time")
        if extra >= 500:
            failures.append("memory")
        for peer in ("torch-cka", "pytorch-cka", "ckatorch"):
            if results.get(peer):
                peer_ratio = results[peer]["seconds"] / mapped["seconds"]
                peer_memory = results[peer]["peak_mb"] - forward["peak_mb"]
                print(f"{peer + ' / map':<30}{peer_ratio:6.2f}x   (extrapolated; peak RSS "
                      f"{peer_memory:+.0f} MB vs forward) {results[peer]['note']}")
    if results.get("per-pair") and results.get("map-small"):
        pair, small = results["per-pair"], results["map-small"]
        print(f"per-pair dense loop / map     {pair['seconds'] / small['seconds']:6.1f}x   (on "
              f"{args.dense_n} images: {pair['per_pair']:.1f} s per pair x "
              f"{len(RESNET_LAYERS) * len(VGG_LAYERS)} pairs, vs {small['seconds']:.1f} s)")
    if args.quick:
        return 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
