"""``simfunc compare``: every measure for two saved feature matrices, or for two trained networks.

* File mode -- ``simfunc compare A.npy B.npy``: every representational measure on two saved
  feature matrices (or, with ``--outputs``, every output measure on two saved output matrices).
* Model mode -- ``simfunc compare --model A --model B --dataset NAME_OR_PATH``: load both
  models through the one loader (:mod:`simfunc.models`: a ``model.pt`` or training directory,
  a TorchScript file, or ``package.module:factory`` with ``--state-dict``; the same specs as
  ``simfunc map``), record ``--layer`` and the outputs on the ``--split`` of the dataset (or an
  array of inputs) with :func:`simfunc.compare.run_model`, and print every representational
  measure on the layer, every output measure on the outputs (``from_logits=True``) and each
  model's accuracy where the data has labels.
"""

from __future__ import annotations

import argparse
from typing import Any

from simfunc.cli._models import add_model_arguments
from simfunc.cli._table import FORMATS, format_rows
from simfunc.compare import Comparison, compare_pair
from simfunc.errors import InputError
from simfunc.measure import OUTPUT_LAYER


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare two feature matrices, or two trained networks, with every measure",
        description="File mode (FILE FILE): print every representational measure for two saved "
        "feature matrices (.npy, .npz or .pt; rows are the same examples in both); with "
        "--outputs the files hold outputs (probabilities, or logits with --from-logits) and the "
        "output measures are printed instead. Model mode (--model A --model B --dataset D): "
        "load two models (a model.pt from 'simfunc train' or its directory, a TorchScript "
        "file, or package.module:factory with --state-dict), run both on the --split of D (a "
        "dataset name, an image folder, or a .npy/.npz/.pt array of inputs), and print every "
        "representational measure on --layer, every output measure on the outputs and each "
        "model's accuracy where D has labels.",
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
    add_model_arguments(parser, "model mode: give it twice", required=False)
    parser.add_argument(
        "--dataset",
        metavar="NAME_OR_PATH",
        help="model mode: the data to run both models on: a dataset name, an image folder, or "
        "a .npy/.npz/.pt array of inputs (examples first, fed as they are)",
    )
    parser.add_argument("--image-size", type=int, default=32, metavar="PX",
                        help="model mode: image size for models that do not say theirs "
                        "(default 32)")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=3,
                        help="model mode: image channels for models that do not say theirs "
                        "(default 3)")
    parser.add_argument("--data-root", metavar="DIR", help="model mode: where named datasets live")
    parser.add_argument(
        "--split",
        choices=("train", "test"),
        default="test",
        help="model mode: the split to compare on (default test)",
    )
    parser.add_argument(
        "--layer",
        default=None,
        help="model mode: the layer whose activations the representational measures "
        "compare, in both models: a submodule's dotted name (its output), NAME:input (its "
        "input). Default: features for simfunc models (penultimate), else the input of the "
        "model's last nn.Linear",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="model mode: the submodule whose output is the logits (default: the model's "
        "own output)",
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
    models = args.models or []
    model_only = {
        "--dataset": args.dataset,
        "--data-root": args.data_root,
        "--subset": args.subset,
        "--device": args.device,
        "--layer": args.layer,
        "--output": args.output,
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


def _data_for(loaded: Any, args: argparse.Namespace, cache: dict) -> Any:
    from simfunc.layermap.inputs import load_inputs

    key = (loaded.input_size or args.image_size, loaded.in_channels or args.channels)
    if key not in cache:
        cache[key] = load_inputs(args.dataset, split=args.split, data_root=args.data_root,
                                 image_size=key[0], channels=key[1], subset=args.subset,
                                 key=None)
    return cache[key]


def _accuracy_row(label: str, spec: str, loaded: Any, data: Any, logits: Any) -> dict:
    """Accuracy of one model on labelled images whose classes are the model's (a simfunc
    model's class names must match; another model's output width must be the class count)."""
    import numpy as np

    row = {"measure": f"accuracy ({label})", "kind": "accuracy", "layer": "output",
           "direction": "higher is better", "value": None, "note": spec}
    labels = getattr(data, "labels", None)
    classes = tuple(getattr(data, "classes", ()))
    if labels is None or not bool((labels >= 0).all()):
        reason = "the data has no labels"
    elif loaded.kind == "simfunc" and classes != tuple(loaded.module.classes):
        reason = (f"{data.name} has other classes than the {len(loaded.module.classes)} the "
                  "model was trained on")
    elif logits.shape[1] != len(classes):
        reason = f"{logits.shape[1]} outputs for {len(classes)} classes"
    else:
        row["value"] = float(np.mean(logits.argmax(1) == labels.numpy()))
        if loaded.kind != "simfunc":
            row["note"] = f"{spec}; output i read as class {classes[0]!r}, ... (folder order)"
        return row
    row["note"] = f"{spec}; n/a: {reason}"
    return row


def run_models(args: argparse.Namespace) -> int:
    from simfunc.compare import run_model
    from simfunc.functional import OUTPUT_MEASURES
    from simfunc.models import load_model_spec
    from simfunc.representational import MEASURES

    rep_names, out_names = _split_measures(args.measure)
    device = args.device or "cpu"
    loaded = [load_model_spec(spec, state) for spec, state in args.models]
    cache: dict = {}
    runs, accuracy_rows, layers = [], [], []
    for label, (spec, _), model in zip("AB", args.models, loaded, strict=True):
        data = _data_for(model, args, cache)
        simfunc_model = model.kind == "simfunc"
        layer = args.layer or ("features" if simfunc_model else None)
        output = args.output or ("logits" if simfunc_model else None)
        try:
            run = run_model(model.module, data, layer=layer, output=output,
                            batch_size=args.batch_size, device=device)
        except InputError as error:
            raise InputError(f"model {label} ({spec}): {error}") from None
        runs.append(run)
        layers.append(run.layer)
        accuracy_rows.append(_accuracy_row(label, spec, model, data, run.outputs))
    A, B = runs
    shown_layer = A.layer if A.layer == B.layer else f"{A.layer} / {B.layer}"
    representational = list(MEASURES) if rep_names is None else rep_names
    outputs = list(OUTPUT_MEASURES) if out_names is None else out_names
    compared = compare_pair({"features": A.features}, {"features": B.features},
                            A.outputs, B.outputs, measures=representational,
                            output_measures=outputs, from_logits=True)
    asked = bool(args.measure)
    rows = [{**row, "kind": "representational", "layer": shown_layer}
            for row in _rows(compared, "features", representational, MEASURES, asked)]
    rows += [{**row, "kind": "output", "layer": "output"}
             for row in _rows(compared, OUTPUT_LAYER, outputs, OUTPUT_MEASURES, asked)]
    rows += accuracy_rows
    if args.format == "table":
        n = A.features.shape[0]
        where = args.dataset if len(cache) != 1 or not hasattr(next(iter(cache.values())),
                                                              "classes") else (
            f"{args.dataset} ({args.split})")
        print(f"{n} examples of {where}; layer {shown_layer!r}; outputs compared as softmax of "
              "the logits")
    print(
        format_rows(rows, ["measure", "kind", "layer", "value", "direction", "note"], args.format)
    )
    return 0
