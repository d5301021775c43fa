"""``simfunc study CONFIG.toml``: the thesis's question asked of the user's own models.

A thin layer over :func:`simfunc.study.run_study_config`: reads the TOML file (its format is in
:mod:`simfunc.study.config`), runs the plan here, in ``--jobs`` worker processes or on Ray
(``--executor ray``), and prints where the files are and how many jobs ran or came from the
cache. A broken configuration is one line naming the key and the model, exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "study", help="do your models with similar representations compute similar functions?",
        description="Compare every pair of your models (TorchScript files, simfunc model.pt "
        "files, or package.module:factory + state_dict) with every representational and "
        "functional measure, with bootstrap intervals over examples, relate the two kinds "
        "with network-level statistics, and write results.sqlite, summary.json, pairs.csv, "
        "relation.csv and report.html. CONFIG.toml names the data, the models and the "
        "measures (see simfunc.study.config). Features and pairs are cached: a rerun with one "
        "more model computes only its features and its new pairs.",
    )
    parser.add_argument("config", metavar="CONFIG.toml", help="the study's configuration")
    parser.add_argument("--out", metavar="DIR",
                        help="where the files go (default: runs/NAME, NAME from the config)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="artifact cache (default: $SIMFUNC_CACHE or ./cache)")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="jobs run at once in worker processes (default 1: here); with "
                        "--executor ray, the CPUs of the local Ray instance")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="where jobs run: local (default) or ray (Ray tasks on a local "
                        "instance or the cluster at --ray-address; pip install simfunc[ray])")
    parser.add_argument("--ray-address", metavar="ADDRESS",
                        help="with --executor ray: join this Ray cluster instead")
    parser.add_argument("--max-retries", type=int, metavar="N",
                        help="with --executor ray: reruns of a job whose worker died")
    parser.add_argument("--device", default="cpu", help="torch device the models run on "
                        "(default cpu)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simfunc.cli.run import _executor
    from simfunc.study import load_config, run_study_config

    config = load_config(args.config)  # a broken file stops here, before any work
    executor = _executor(args)
    with executor or contextlib.nullcontext():  # shut down a Ray instance started here
        result = run_study_config(config, out=args.out, cache_dir=args.cache_dir,
                                  jobs=args.jobs or 1, executor=executor, device=args.device,
                                  progress=not args.no_progress)
    summary = result.summary
    print(f"{len(summary.models)} models, {len(summary.models) * (len(summary.models) - 1) // 2}"
          f" pairs on {summary.n_examples} examples ({result.report.summary()})")
    for model in summary.models:
        accuracy = "" if model.accuracy is None else f", accuracy {model.accuracy:.3f}"
        print(f"  {model.name}: {model.kind}, layer {model.layer or '(output)'!r}{accuracy}")
    shown = [row for row in summary.relations
             if (row.representational, row.functional) == ("linear_cka", "jsd")]
    for row in shown or summary.relations[:1]:
        if row.spearman is None:
            print(f"rho({row.representational}, {row.functional}): undefined ({row.note})")
            continue
        ci = ("" if row.ci_low is None
              else f", 95% CI [{row.ci_low:.3f}, {row.ci_high:.3f}] (networks redrawn)")
        p = "" if row.p_value is None else f", Mantel p = {row.p_value:.3g}"
        print(f"rho({row.representational}, {row.functional}) = {row.spearman:.3f} over "
              f"{row.n_pairs} pairs{ci}{p}")
    for name, path in result.files.items():
        print(f"wrote {path}")
    return 0
