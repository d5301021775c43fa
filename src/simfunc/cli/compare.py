"""``simfunc compare``: every measure for two saved feature matrices, or for two trained networks.

* File mode -- ``simfunc compare A.npy B.npy``: every representational measure on two saved
  feature matrices (or, with ``--outputs``, every output measure on two saved output matrices).
* Model mode -- ``simfunc compare --model A --model B --dataset NAME_OR_PATH``: load both
  networks (``model.pt`` files or training directories), extract ``--layer`` and the logits on
  the ``--split`` of the dataset, and print every representational measure on the layer, every
  output measure on the outputs (``from_logits=True``) and each model's accuracy.
"""

from __future__ import annotations

import argparse
from typing import Any

from simfunc.cli._table import FORMATS, format_rows
from simfunc.compare import Comparison, compare_pair
from simfunc.errors import InputError
from simfunc.store import OUTPUT_LAYER


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare two feature matrices, or two trained networks, with every measure",
        description="File mode (FILE FILE): print every representational measure for two saved "
        "feature matrices (.npy, .npz or .pt; rows are the same examples in both); with "
        "--outputs the files hold outputs (probabilities, or logits with --from-logits) and the "
        "output measures are printed instead. Model mode (--model A --model B --dataset D): "
        "load two networks trained by 'simfunc train' (model.pt files or their directories), "
        "run both on the --split of D, and print every representational measure on --layer, "
        "every output measure on the logits and each network's accuracy.",
    )
    parser.add_argument(
        "files", nargs="*", metavar="FILE", help="file mode: two .npy/.npz/.pt files"
    )
    parser.add_argument(
        "--key", help="file mode: array name inside .npz/.pt files that hold several"
    )
    parser.add_argument(
        "--outputs",
        action="store_true",
        help="file mode: the files hold outputs (n, classes): use the output measures",
    )
    parser.add_argument(
        "--from-logits",
        action="store_true",
        help="file mode with --outputs: the files hold logits, not probabilities",
    )
    parser.add_argument(
        "--model",
        action="append",
        metavar="MODEL",
        help="model mode: a model.pt file or a training directory; give it twice",
    )
    parser.add_argument(
        "--dataset",
        metavar="NAME_OR_PATH",
        help="model mode: the dataset to run both networks on (a name or an image folder)",
    )
    parser.add_argument("--data-root", metavar="DIR", help="model mode: where named datasets live")
    parser.add_argument(
        "--split",
        choices=("train", "test"),
        default="test",
        help="model mode: the split to compare on (default test)",
    )
    parser.add_argument(
        "--layer",
        default="features",
        help="model mode: the layer whose activations the representational measures "
        "compare: features (penultimate, default), last_conv, or any submodule's "
        "dotted name",
    )
    parser.add_argument(
        "--subset",
        type=int,
        metavar="N",
        help="model mode: a class-stratified subset of N examples (default: the "
        "whole split; measures such as rbf_cka and rsa need n x n memory)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=256,
        help="model mode: examples per forward pass (default 256)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="model mode: torch device to run the networks on (default cpu)",
    )
    parser.add_argument(
        "--measure",
        action="append",
        metavar="NAME",
        help="only this measure (repeatable); default: all registered",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help="output format (default: table)"
    )
    parser.set_defaults(handler=run)


def _direction(measure: Any) -> str:
    return "similarity ↑" if measure.larger_is_more_similar else "distance ↓"


def _check_names(names: list[str] | None, registry: dict, what: str) -> None:
    unknown = [name for name in names or [] if name not in registry]
    if unknown:
        raise InputError(
            f"--measure: unknown {', '.join(map(repr, unknown))}; choose from {what}"
        )


def _rows(comparison: Comparison, layer: str, names: list[str], registry: dict,
          asked: bool) -> list[dict]:
    """One row per measure of ``names`` at ``layer``: its value, or "n/a" and the reason.

    ``asked``: the user named these measures, so a measure left out is an error (its reason
    is the answer), not a row.
    """
    rows = []
    for name in names:
        row = {"measure": name, "direction": _direction(registry[name]),
               "value": comparison.value(layer, name)}
        reasons = [note.reason for note in comparison.notes
                   if note.layer == layer and note.measure in (name, "")]
        if row["value"] is None:
            reason = reasons[0] if reasons else "not measured"
            if asked:
                raise InputError(f"{name}: {reason}")
            row["note"] = f"n/a: {reason}"
        elif reasons:
            row["note"] = "; ".join(reasons)
        rows.append(row)
    return rows


def _check_mode(args: argparse.Namespace) -> str:
    models = args.model or []
    model_only = {
        "--dataset": args.dataset,
        "--data-root": args.data_root,
        "--subset": args.subset,
        "--device": args.device,
    }
    if args.files and models:
        raise InputError(
            "give either two FILEs (file mode) or --model twice (model mode), not both"
        )
    if models:
        if len(models) != 2:
            raise InputError(
                f"model mode compares two networks: give --model twice, not {len(models)} time(s)"
            )
        if not args.dataset:
            raise InputError("model mode needs --dataset: the data to run both networks on")
        file_only = [
            flag
            for flag, value in (
                ("--key", args.key),
                ("--outputs", args.outputs),
                ("--from-logits", args.from_logits),
            )
            if value
        ]
        if file_only:
            raise InputError(f"{', '.join(file_only)} only apply to file mode (two FILEs)")
        return "model"
    if len(args.files) != 2:
        raise InputError(
            f"give two FILEs to compare (got {len(args.files)}), or --model A --model B "
            "--dataset D to compare two trained networks"
        )
    used = [flag for flag, value in model_only.items() if value is not None]
    if used:
        raise InputError(f"{', '.join(used)} only apply to model mode (--model twice)")
    return "files"


def run(args: argparse.Namespace) -> int:
    if _check_mode(args) == "model":
        return run_models(args)
    from simfunc.arrayfile import load_array

    A, B = (load_array(path, args.key) for path in args.files)
    asked = bool(args.measure)
    if args.outputs:
        from simfunc.functional import OUTPUT_MEASURES

        _check_names(args.measure, OUTPUT_MEASURES, ", ".join(OUTPUT_MEASURES))
        names = args.measure or list(OUTPUT_MEASURES)
        compared = compare_pair({}, {}, A, B, output_measures=names,
                                from_logits=args.from_logits)
        rows = _rows(compared, OUTPUT_LAYER, names, OUTPUT_MEASURES, asked)
    else:
        if args.from_logits:
            raise InputError("--from-logits only applies with --outputs")
        from simfunc.representational import MEASURES

        _check_names(args.measure, MEASURES, ", ".join(MEASURES))
        names = args.measure or list(MEASURES)
        compared = compare_pair({"features": A}, {"features": B}, measures=names)
        rows = _rows(compared, "features", names, MEASURES, asked)
    print(format_rows(rows, ["measure", "value", "direction", "note"], args.format))
    return 0


# --------------------------------------------------------------------------- model mode


def _split_measures(names: list[str] | None) -> tuple[list[str] | None, list[str] | None]:
    """(representational names, output names) for --measure; None means all of that kind."""
    from simfunc.functional import OUTPUT_MEASURES
    from simfunc.representational import MEASURES

    if not names:
        return None, None
    unknown = [n for n in names if n not in MEASURES and n not in OUTPUT_MEASURES]
    if unknown:
        raise InputError(
            f"--measure: unknown {', '.join(map(repr, unknown))}; representational: "
            f"{', '.join(MEASURES)}; output: {', '.join(OUTPUT_MEASURES)}"
        )
    return [n for n in names if n in MEASURES], [n for n in names if n in OUTPUT_MEASURES]


def run_models(args: argparse.Namespace) -> int:
    import numpy as np

    from simfunc.data import load
    from simfunc.extract import activations
    from simfunc.train.modelfile import load_model

    rep_names, out_names = _split_measures(args.measure)
    device = args.device or "cpu"
    models = [load_model(path, device=device) for path in args.model]
    data_by_shape: dict[tuple[int, int], Any] = {}
    extracted, accuracy_rows = [], []
    layers = [args.layer] if args.layer == "logits" else [args.layer, "logits"]
    for label, path, model in zip("AB", args.model, models, strict=True):
        shape = (model.input_size, model.in_channels)
        if shape not in data_by_shape:
            data_by_shape[shape] = load(
                args.dataset,
                args.split,
                data_root=args.data_root,
                image_size=shape[0],
                channels=shape[1],
                subset=args.subset,
            )
        data = data_by_shape[shape]
        acts = activations(model, data, layers, batch_size=args.batch_size, device=device)
        extracted.append(acts)
        logits = acts["logits"]
        row = {
            "measure": f"accuracy ({label})",
            "kind": "accuracy",
            "layer": "logits",
            "direction": "higher is better",
            "value": None,
            "note": str(path),
        }
        labelled = bool((data.labels >= 0).all())
        if labelled and tuple(data.classes) == tuple(model.classes):
            row["value"] = float(np.mean(logits.argmax(1) == data.labels.numpy()))
        else:
            reason = (
                "the data is unlabelled"
                if not labelled
                else (
                    f"{data.name} has other classes than the {len(model.classes)} the model "
                    "was trained on"
                )
            )
            row["note"] = f"{path}; n/a: {reason}"
        accuracy_rows.append(row)

    from simfunc.functional import OUTPUT_MEASURES
    from simfunc.representational import MEASURES

    A, B = extracted
    representational = list(MEASURES) if rep_names is None else rep_names
    outputs = list(OUTPUT_MEASURES) if out_names is None else out_names
    compared = compare_pair({args.layer: A[args.layer]}, {args.layer: B[args.layer]},
                            A["logits"], B["logits"], measures=representational,
                            output_measures=outputs, from_logits=True)
    asked = bool(args.measure)
    rows = [{**row, "kind": "representational", "layer": args.layer}
            for row in _rows(compared, args.layer, representational, MEASURES, asked)]
    rows += [{**row, "kind": "output", "layer": "logits"}
             for row in _rows(compared, OUTPUT_LAYER, outputs, OUTPUT_MEASURES, asked)]
    rows += accuracy_rows
    if args.format == "table":
        n = len(next(iter(data_by_shape.values())))
        print(
            f"{n} examples of {args.dataset} ({args.split}); layer {args.layer!r}; outputs "
            "compared as softmax of the logits"
        )
    print(
        format_rows(rows, ["measure", "kind", "layer", "value", "direction", "note"], args.format)
    )
    return 0
