"""``simfunc map``: the layer-by-layer similarity map of two PyTorch models, as files.

    simfunc map --model runs/r18/model.pt --model runs/vgg/model.pt --data cifar10 \
        --data-root ../shared/data --out maps/r18-vs-vgg
    simfunc map --model mypkg.nets:resnet50 --state-dict ckpt.pt --model traced.pt --data x.npy

A thin layer over :func:`simfunc.layer_map`: loads the models (:mod:`simfunc.models`, the one loader)
and the data (:mod:`simfunc.layermap.inputs`), computes the map in one pass with a progress bar
over the batches, and writes ``layer_map.png``, ``.csv``, ``.html`` and ``.json`` to ``--out``
(:mod:`simfunc.layermap.render`).
"""

from __future__ import annotations

import argparse
from typing import Any

from simfunc.cli._models import add_model_arguments
from simfunc.errors import InputError


def _layers(text: str) -> Any:
    text = text.strip()
    if text == "all":
        return "all"
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give 'all' or comma-separated layer names")
    return names


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "map",
        help="layer-by-layer similarity map (heatmap, CSV, HTML) of two PyTorch models",
        description="Compare every layer of model A with every layer of model B in one pass "
        "over the data (linear CKA by default: exact when the layers are narrow, else the "
        "minibatch estimator of Nguyen et al. 2021), and write layer_map.png, .csv, .html and "
        ".json. A model is a model.pt from 'simfunc train' (or its directory), a TorchScript "
        "file, or package.module:factory (a function returning an nn.Module; weights with "
        "--state-dict). Give --model once for a self-map.",
    )
    add_model_arguments(parser, "give it twice (A, then B)", required=True)
    parser.add_argument("--data", required=True, metavar="NAME_OR_PATH",
                        help="a dataset name (cifar10, digits, ...), an image folder, or a "
                        ".npy/.npz/.pt array of inputs (examples first)")
    parser.add_argument("--key", help="array name inside a .npz/.pt --data holding several")
    parser.add_argument("--data-root", metavar="DIR", help="where named datasets live")
    parser.add_argument("--split", choices=("train", "test"), default="test",
                        help="dataset split (default test)")
    parser.add_argument("--subset", type=int, metavar="N",
                        help="use N examples (class-stratified for datasets)")
    parser.add_argument("--image-size", type=int, default=32, metavar="PX",
                        help="image size for models that do not say theirs (default 32)")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=3,
                        help="image channels for models that do not say theirs (default 3)")
    parser.add_argument("--layers-a", type=_layers, default="all", metavar="NAMES",
                        help="comma-separated dotted layer names of model A, or 'all' (every "
                        "leaf module; default)")
    parser.add_argument("--layers-b", type=_layers, default=None, metavar="NAMES",
                        help="the same for model B (default: --layers-a for a self-map, else "
                        "'all')")
    parser.add_argument("--measure", default="linear_cka",
                        help="a measure from 'simfunc measures' (default linear_cka)")
    parser.add_argument("--estimator", choices=("auto", "minibatch", "exact"), default="auto",
                        help="linear CKA estimator (default auto: exact when the feature "
                        "statistics fit in --memory-limit, else minibatch)")
    parser.add_argument("--debiased", action=argparse.BooleanOptionalAction, default=None,
                        help="unbiased HSIC for the exact estimator (minibatch always is)")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="examples per forward pass (default 256)")
    parser.add_argument("--memory-limit", type=float, default=256, metavar="MiB",
                        help="MiB of exact statistics allowed (default 256)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu; e.g. cuda)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the example order")
    parser.add_argument("--no-shuffle", action="store_true",
                        help="feed the examples in their order (not advised for minibatch)")
    parser.add_argument("--out", default="layer-map", metavar="DIR",
                        help="output directory (default ./layer-map)")
    parser.add_argument("--title", help="heatmap title (default: the two model names)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="where stored features go (default: $SIMFUNC_CACHE or ./cache)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def _data_for(loaded, args, cache: dict) -> Any:
    from simfunc.layermap.inputs import load_inputs

    size = loaded.input_size or args.image_size
    channels = loaded.in_channels or args.channels
    key = (size, channels)
    if key not in cache:
        cache[key] = load_inputs(args.data, split=args.split, data_root=args.data_root,
                                 image_size=size, channels=channels, subset=args.subset,
                                 key=args.key, seed=args.seed)
    return cache[key]


def run(args: argparse.Namespace) -> int:
    import warnings

    from simfunc.layermap import layer_map
    from simfunc.models import load_model_spec
    from simfunc.layermap.render import write_map

    specs = args.models or []
    if len(specs) not in (1, 2):
        raise InputError(f"give --model once (a self-map) or twice, not {len(specs)} times")
    loaded = [load_model_spec(spec, state) for spec, state in specs]
    for model in loaded:  # a file or a factory has no meaningful mode: compare in eval mode
        model.module.eval()
    cache: dict = {}
    data_a = _data_for(loaded[0], args, cache)
    data_b = None
    if len(loaded) == 2:
        data_b = _data_for(loaded[1], args, cache)
        if data_b is data_a:
            data_b = None
    model_a = loaded[0].module
    model_b = loaded[1].module if len(loaded) == 2 else model_a
    layers_b = args.layers_b if args.layers_b is not None else (
        args.layers_a if len(loaded) == 1 else "all")
    label_a = f"A: {loaded[0].label}"
    label_b = f"B: {loaded[1].label}" if len(loaded) == 2 else f"B: {loaded[0].label}"
    if args.memory_limit < 0:
        raise InputError("--memory-limit must be at least 0")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = layer_map(
            model_a, model_b, data_a, data_b=data_b, layers_a=args.layers_a, layers_b=layers_b,
            measure=args.measure, estimator=args.estimator, debiased=args.debiased,
            batch_size=args.batch_size, device=args.device, shuffle=not args.no_shuffle,
            seed=args.seed, memory_limit=int(args.memory_limit * 2**20),
            cache_dir=args.cache_dir, progress=not args.no_progress,
        )
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print(f"simfunc map: warning: {warning.message}")
    title = args.title or f"{loaded[0].label} vs {loaded[-1].label}"
    extra = {"model_a": loaded[0].details, "model_b": loaded[-1].details, "data": args.data,
             "split": args.split}
    paths = write_map(frame, args.out, title=title, label_a=label_a, label_b=label_b,
                      extra=extra)
    attrs = frame.attrs
    print(f"{attrs['measure']} ({attrs['estimator']}{', debiased' if attrs['debiased'] else ''})"
          f" of {frame.shape[0]} x {frame.shape[1]} layers on {attrs['n_examples']} examples "
          f"in {attrs['n_batches']} batches")
    for path in paths.values():
        print(f"wrote {path}")
    return 0
