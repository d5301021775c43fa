"""``layer_map``: every layer of model A against every layer of model B, in one pass over the data.

    from simfunc import layer_map
    cka = layer_map(model_a, model_b, data, layers_a="all", layers_b=["layer1", "layer2"])
    cka.loc["layer3.1", "layer2"]      # a labelled DataFrame: rows A's layers, columns B's

Both models see each batch once; forward hooks (a rewritten graph for TorchScript) hand each
chosen layer's output to the estimator inside the pass, so no layer's features are kept longer
than its hook unless the measure needs them. The models run in eval mode under
``torch.inference_mode`` on ``device`` and are put back as they were (device, train/eval
modes, no hooks left) afterwards, even after an error.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from simfunc.errors import InputError
from simfunc.extract import _model_device, _model_dtype
from simfunc.progress import progress_bar
from simfunc.representational.cka import linear_cka
from simfunc.representational.cka_grid import grid_statistics_bytes
from simfunc.representational.minibatch_cka import MIN_BATCH
from simfunc.representational.registry import check_options, get_measure
from simfunc.validation import check_int

from .featurestore import FeatureStore, data_fingerprint, default_cache_root, model_fingerprint
from .feeds import make_feed
from .selection import select_layers
from .sinks import ExactSink, MinibatchSink, StoreSink
from simfunc.extract.taps import make_taps

__all__ = ["layer_map", "ESTIMATORS", "DEFAULT_MEMORY_LIMIT"]

ESTIMATORS = ("auto", "minibatch", "exact")
DEFAULT_MEMORY_LIMIT = 256 * 2**20  # bytes of exact feature-space statistics "auto" allows
_PROBE_ROWS = 8


def layer_map(
    model_a: nn.Module,
    model_b: nn.Module | None,
    data: Any,
    *,
    layers_a: Any = "all",
    layers_b: Any = "all",
    measure: str = "linear_cka",
    estimator: str = "auto",
    debiased: bool | None = None,
    batch_size: int = 256,
    data_b: Any = None,
    device: str | torch.device | None = None,
    shuffle: bool = True,
    seed: int = 0,
    select_a: Mapping[str, Any] | None = None,
    select_b: Mapping[str, Any] | None = None,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    cache_dir: str | None = None,
    progress: bool = True,
    **options: Any,
) -> pd.DataFrame:
    """Similarity of every chosen layer of ``model_a`` with every chosen layer of ``model_b``.

    Args:
        model_a, model_b: any ``nn.Module`` (Python or TorchScript). ``model_b`` may be
            ``model_a`` itself or None (a self-map): then one forward pass per batch serves both.
        data: the examples (an ImageDataset, a torch Dataset, a DataLoader, a tensor or a
            numpy array; see :mod:`simfunc.layermap.feeds`).
        layers_a, layers_b: dotted names, a predicate ``f(name, module)``, or ``"all"`` (every
            leaf module); see :mod:`simfunc.layermap.selection`.
        measure: a name in ``simfunc.representational.MEASURES``. ``linear_cka`` and
            ``debiased_cka`` use the streaming estimators below; any other measure is computed
            per pair on the layers' features, kept as float32 memory maps in the cache (that
            needs each pair's features, in float64, to fit in memory).
        estimator: for linear CKA --

            * ``"minibatch"``: the minibatch CKA of Nguyen, Raghu & Kornblith (2021): per batch
              the unbiased HSIC (Song et al. 2012) of the batch Gram matrices, summed over
              batches, ``Σ HSIC(K,L) / sqrt(Σ HSIC(K,K) Σ HSIC(L,L))``. Memory
              O(layers² + batch²) whatever the widths. It converges, as batches accumulate, to
              the ratio of the expected batch HSICs: the *debiased* linear CKA of the whole
              data set (shuffled passes over it) or the population CKA (i.i.d. batches) -- not
              the plain CKA and not a mean of per-batch CKAs; with every example in one batch
              it equals the debiased CKA exactly. See
              :mod:`simfunc.representational.minibatch_cka`.
            * ``"exact"``: the linear CKA of all examples (``linear_cka`` on the whole data),
              from streamed feature-space statistics (:class:`LinearCKAGrid`,
              ``8(Σp² + Σq² + PQ)`` bytes for widths p of A's and q of B's layers) when they fit
              in ``memory_limit``, else from the features stored in the cache.
            * ``"auto"`` (default): ``"exact"`` when its statistics fit in ``memory_limit``,
              else ``"minibatch"``. Both then estimate the same quantity, the debiased CKA
              (``debiased`` defaults to True here).
        debiased: for ``"exact"``, use the unbiased HSIC (default: the measure's own setting,
            False for ``linear_cka``, True for ``debiased_cka``); ``"minibatch"`` is always
            debiased; ``"auto"`` defaults to True.
        batch_size: examples per forward pass (at most; indexable data is cut into equal
            batches). The minibatch estimator needs batches of at least 4.
        data_b: the same examples prepared for model B, when it needs other inputs.
        device: where to run (default: where model A's parameters are). Accumulators live
            there too (float64).
        shuffle, seed: feed indexable data in a seeded random order (the minibatch estimator
            needs random batches; other estimators do not depend on the order).
        select_a, select_b: ``{layer: index, key or function}`` to pick a tensor out of a
            layer that returns a tuple, list or dict (a layer returning anything but a tensor
            is otherwise rejected, naming what it returns).
        memory_limit: bytes of exact statistics ``"auto"`` and ``"exact"`` may keep.
        cache_dir: where stored features go (default ``$SIMFUNC_CACHE`` or ``./cache``).
        progress: draw a progress bar over the batches.
        **options: the measure's options (``k=`` for mutual_knn, ``threshold=`` for rbf_cka).

    Returns:
        A DataFrame, index A's layer names, columns B's, one value per pair (never NaN). Its
        ``attrs`` record how it was made: ``measure``, ``estimator`` (the one used:
        "exact", "minibatch", or "stored" for other measures), ``form`` (for "exact":
        "statistics" or "stored"), ``debiased``, ``n_examples``, ``n_batches``, ``batch_size``, ``widths_a``,
        ``widths_b``, ``device``, ``notes`` (warnings given, layers left out).

    Raises:
        InputError: unknown layers (listing the names that exist), layers that do not run once
            per pass or return something other than a tensor, mismatched data and data_b,
            fewer than 4 examples, constant layers (CKA undefined), and other bad arguments.
    """
    if not isinstance(model_a, nn.Module):
        raise InputError(f"model_a must be a torch nn.Module, got {type(model_a).__name__}")
    if model_b is None:
        model_b = model_a
    if not isinstance(model_b, nn.Module):
        raise InputError(f"model_b must be a torch nn.Module, got {type(model_b).__name__}")
    if estimator not in ESTIMATORS:
        raise InputError(f"estimator must be one of {', '.join(map(repr, ESTIMATORS))}; "
                         f"got {estimator!r}")
    chosen = get_measure(measure)
    check_options(chosen, options)
    merged = {**chosen.options, **options}
    if debiased is not None and not isinstance(debiased, bool):
        raise InputError(f"debiased must be True, False or None, got {debiased!r}")
    is_cka = chosen.fn is linear_cka
    if not is_cka and (debiased is not None or estimator != "auto"):
        raise InputError(
            f"estimator and debiased apply to linear CKA; {chosen.name} is computed on the "
            "stored features of each pair"
        )
    if "debiased" in options and debiased is not None:
        raise InputError("give debiased once (as debiased=, not also as a measure option)")
    if is_cka:
        debiased = merged.pop("debiased", None) if debiased is None else debiased
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    memory_limit = check_int(memory_limit, "memory_limit", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    for flag, value in (("shuffle", shuffle), ("progress", progress)):
        if not isinstance(value, bool):
            raise InputError(f"{flag} must be True or False, got {value!r}")

    shared_model = model_b is model_a and data_b is None
    selection_a = select_layers(model_a, layers_a, "layers_a")
    selection_b = select_layers(model_b, layers_b, "layers_b")
    picks = (_picks(select_a, selection_a.names, "select_a"),
             _picks(select_b, selection_b.names, "select_b"))
    feed = make_feed(data, data_b, batch_size, shuffle, seed)
    notes: list[str] = []

    original_device = _model_device(model_a)
    try:
        target = original_device if device is None else torch.device(device)
        torch.empty(0, device=target)  # an unavailable device fails here, not mid-pass
    except (RuntimeError, TypeError, AssertionError) as error:
        raise InputError(f"device {device!r} is not available: {error}") from None

    with _models_ready((model_a, model_b), target, notes):
        with torch.inference_mode():
            batches = iter(feed)
            first = next(batches, None)
            if first is None:
                raise InputError("data yielded no examples")
            names_a, names_b, widths = _probe(
                (model_a, model_b), (selection_a, selection_b), picks, first, target, notes,
                shared_model,
            )
            n_total = feed.n
            plan = _plan(is_cka, estimator, debiased, widths, memory_limit, n_total, batch_size,
                         notes)
            values, n_seen, n_batches = _run(
                plan, (model_a, model_b), (names_a, names_b), picks, feed, first, batches,
                target, shared_model, chosen, merged, widths, cache_dir, progress, notes,
                (selection_a.names, selection_b.names, seed, shuffle),
            )
    for note in notes:
        warnings.warn(f"layer_map: {note}", UserWarning, stacklevel=2)
    frame = pd.DataFrame(values, index=pd.Index(names_a, name="A"),
                         columns=pd.Index(names_b, name="B"))
    frame.attrs.update(
        measure=chosen.name,
        estimator=plan["estimator"],
        form=plan.get("form"),
        debiased=plan.get("debiased"),
        n_examples=n_seen,
        n_batches=n_batches,
        batch_size=batch_size,
        widths_a=dict(zip(names_a, widths[0])),
        widths_b=dict(zip(names_b, widths[1])),
        device=str(target),
        larger_is_more_similar=chosen.larger_is_more_similar,
        bounds=list(chosen.bounds),
        notes=list(notes),
    )
    return frame


def _picks(select: Mapping[str, Any] | None, names: list[str], argument: str) -> dict:
    if select is None:
        return {}
    if not isinstance(select, Mapping):
        raise InputError(f"{argument} must map layer names to an index, key or function")
    unknown = [name for name in select if name not in names]
    if unknown:
        raise InputError(f"{argument} names layer(s) {', '.join(map(repr, unknown))} that are not "
                         "among the chosen layers")
    return dict(select)


def _tensor_of(name: str, output: Any, pick: Any) -> torch.Tensor:
    """The tensor a layer gives: its output, or the part ``pick`` selects from a container."""
    if pick is not None:
        try:
            output = pick(output) if callable(pick) else output[pick]
        except (KeyError, IndexError, TypeError) as error:
            raise InputError(f"layer {name!r}: the selection {pick!r} does not apply to its "
                             f"output ({type(output).__name__}): {error}") from None
    if isinstance(output, torch.Tensor):
        return output
    described = type(output).__name__
    if isinstance(output, (tuple, list)):
        parts = ", ".join(type(item).__name__ for item in output[:6])
        described = f"{described} of ({parts}{', ...' if len(output) > 6 else ''})"
        hint = "select_a/select_b={layer: index}"
    elif isinstance(output, Mapping):
        described = f"{described} with keys {', '.join(map(repr, list(output)[:6]))}"
        hint = "select_a/select_b={layer: key}"
    else:
        hint = "select_a/select_b={layer: function}"
    raise InputError(f"layer {name!r} returns a {described}, not a tensor: choose a submodule "
                     f"whose output is a tensor, or say which part to compare with {hint}")


@contextlib.contextmanager
def _models_ready(models: tuple[nn.Module, nn.Module], target: torch.device, notes: list[str]):
    """Both models on ``target`` in eval mode for the block; put back afterwards."""
    unique = list({id(model): model for model in models}.values())
    states = []
    for label, model in zip("AB", unique if len(unique) == 2 else unique + [None]):
        if model is None:
            continue
        modes = {module: module.training for module in model.modules()}
        if any(modes.values()):
            which = "the model" if len(unique) == 1 else f"model {label}"
            notes.append(f"{which} was in training mode: switched to eval mode for the map "
                         "(batch norm uses its running statistics, dropout is off) and back "
                         "afterwards")
        states.append((model, modes, _model_device(model)))
    try:
        for model, _, _ in states:
            model.to(target)
            model.eval()
        yield
    finally:
        for model, modes, device in states:
            model.to(device)
            for module, mode in modes.items():
                module.training = mode


def _prepare(batch: torch.Tensor, model: nn.Module, target: torch.device) -> torch.Tensor:
    if batch.is_floating_point():
        return batch.to(device=target, dtype=_model_dtype(model))
    return batch.to(target)


def _probe(models, selections, picks, first, target, notes, shared_model):
    """Run a few examples; keep the layers that can be compared; return names and widths."""
    rows = min(_PROBE_ROWS, int(first[0].shape[0]))
    kept_names, kept_widths = [], []
    for side, (model, selection, pick) in enumerate(zip(models, selections, picks)):
        label = "AB"[side]
        if shared_model and side == 1:
            inputs = first[0][:rows]
        else:
            inputs = (first[1] if side == 1 and first[1] is not None else first[0])[:rows]
        batch = _prepare(inputs, model, target)
        seen: dict[str, list[Any]] = {name: [] for name in selection.names}
        taps = make_taps(model, selection.names, lambda name, out: seen[name].append(out))
        problems: dict[str, str] = dict(getattr(taps, "problems", {}))
        try:
            if not problems:
                runner = taps.probe if hasattr(taps, "probe") else taps.run
                calls = runner(batch)
                if isinstance(calls, dict):  # hooks: counted calls, outputs kept only once
                    for name, count in calls.items():
                        if count != 1:
                            problems[name] = ("did not run in the forward pass" if count == 0
                                              else f"ran {count} times in one forward pass, so "
                                              "it has no single output per example")
            elif not selection.automatic:
                raise InputError(f"model {label}: " + "; ".join(
                    f"layer {name!r} {text}" for name, text in problems.items()))
            else:
                good = [name for name in selection.names if name not in problems]
                if good:
                    taps.close()
                    taps = make_taps(model, good, lambda name, out: seen[name].append(out))
                    taps.run(batch)
        finally:
            taps.close()
        names, widths = [], []
        for name in selection.names:
            if name in problems:
                continue
            try:
                tensor = _tensor_of(name, seen[name][0], pick.get(name))
                if tensor.ndim == 0 or tensor.shape[0] != rows:
                    raise InputError(
                        f"layer {name!r} has output shape {tuple(tensor.shape)} for a batch of "
                        f"{rows}: its first axis is not the examples"
                    )
                if tensor.is_complex() or tensor.dtype == torch.bool:
                    raise InputError(f"layer {name!r} returns {tensor.dtype} values: expected "
                                     "real numbers")
            except InputError as error:
                problems[name] = str(error)
                continue
            names.append(name)
            widths.append(int(math.prod(tensor.shape[1:])))
        if problems and not selection.automatic:
            raise InputError(f"model {label}: " + "; ".join(
                text if text.startswith("layer ") else f"layer {name!r} {text}"
                for name, text in problems.items()))
        if problems:
            listed = ", ".join(list(problems)[:12]) + (" ..." if len(problems) > 12 else "")
            notes.append(f"model {label}: {len(problems)} automatically chosen layer(s) left out "
                         f"because they cannot be compared ({listed})")
        if not names:
            raise InputError(f"model {label}: none of the chosen layers can be compared")
        kept_names.append(names)
        kept_widths.append(widths)
    return kept_names[0], kept_names[1], (kept_widths[0], kept_widths[1])


def _plan(is_cka, estimator, debiased, widths, memory_limit, n_total, batch_size, notes) -> dict:
    """Which estimator runs, and with which settings."""
    if not is_cka:
        return {"estimator": "stored", "debiased": None}
    statistics = grid_statistics_bytes(*widths)
    fits = statistics <= memory_limit
    if estimator == "minibatch" or (estimator == "auto" and not fits):
        if debiased is False:
            raise InputError(
                "the minibatch estimator uses the unbiased HSIC (debiased=True); for plain CKA "
                f"use estimator='exact' (its statistics need {statistics / 2**20:.0f} MiB)"
            )
        if n_total is not None and n_total < batch_size:
            notes.append(f"the data has {n_total} examples, fewer than one batch of "
                         f"{batch_size}: the minibatch estimate is the debiased CKA of those "
                         "examples in one batch")
        return {"estimator": "minibatch", "debiased": True}
    if estimator == "auto":
        debiased = True if debiased is None else debiased
    debiased = bool(debiased)
    if fits:
        return {"estimator": "exact", "debiased": debiased, "form": "statistics"}
    return {"estimator": "exact", "debiased": debiased, "form": "stored"}


def _run(plan, models, names, picks, feed, first, batches, target, shared_model, chosen,
         options, widths, cache_dir, progress, notes, identity):
    """The pass over the data (or a cached copy of its features) and the values."""
    names_a, names_b = names
    shared_layers = shared_model and names_a == names_b
    stored = plan["estimator"] == "stored" or plan.get("form") == "stored"
    store = None
    if stored:
        if feed.n is None:
            raise InputError("storing features needs the number of examples: give the data as an "
                             "array, tensor or Dataset rather than a DataLoader without a length")
        stems_a = [f"a{i:03d}" for i in range(len(names_a))]
        stems_b = stems_a if shared_layers else [f"b{j:03d}" for j in range(len(names_b))]
        layout = {stem: (feed.n, w) for stem, w in zip(stems_a, widths[0])}
        layout.update({stem: (feed.n, w) for stem, w in zip(stems_b, widths[1])})
        store = FeatureStore(cache_dir or default_cache_root(),
                             _store_config(models, names, feed, picks, identity), layout)
        compare = _comparator(chosen, options, plan)
        sink = StoreSink({}, (stems_a, stems_b), compare, (names_a, names_b),
                         lambda **kw: progress_bar(disable=not progress, **kw))
        cached = store.lookup()
        if cached is not None:
            notes.append(f"features reused from the cache entry {store.entry}")
            return sink.finish_with(cached), feed.n, feed.n_batches
        sink.arrays = store.writable()
    elif plan["estimator"] == "minibatch":
        sink = MinibatchSink(names_a, names_b, target, shared_layers)
    else:
        sink = ExactSink(names_a, names_b, plan["debiased"], shared_layers)

    routes = _routes(names_a, names_b, shared_model, shared_layers)
    taps_list = []
    current = {"count": 0}

    def consumer(side_routes: dict[str, list[tuple[str, int]]], pick: dict):
        def consume(name: str, output: Any) -> None:
            # the sinks check for NaN and infinities (the Gram's column means show them)
            tensor = _tensor_of(name, output, pick.get(name))
            count = current["count"]
            if tensor.ndim == 0 or tensor.shape[0] != count:
                raise InputError(f"layer {name!r} has output shape {tuple(tensor.shape)} for a "
                                 f"batch of {count}: its first axis is not the examples")
            flat = tensor.reshape(count, -1)
            for side, index in side_routes[name]:
                sink.take(side, index, flat)
        return consume

    try:
        if shared_model:
            union = list(dict.fromkeys(names_a + names_b))
            taps_list.append((make_taps(models[0], union, consumer(routes, {**picks[1],
                                                                            **picks[0]})), 0))
        else:
            taps_list.append((make_taps(models[0], names_a, consumer(routes[0], picks[0])), 0))
            taps_list.append((make_taps(models[1], names_b, consumer(routes[1], picks[1])), 1))
        bar = progress_bar(total=feed.n_batches, desc="layer map", unit="batch",
                           disable=not progress)
        n_seen = n_batches = 0
        try:
            for index, (x_a, x_b) in enumerate(_chain(first, batches)):
                count = int(x_a.shape[0])
                current.update(count=count, index=index)
                sink.begin(count)
                for taps, side in taps_list:
                    inputs = x_b if side == 1 and x_b is not None else x_a
                    taps.run(_prepare(inputs, models[side], target))
                sink.end()
                n_seen += count
                n_batches += 1
                bar.update(1)
        finally:
            bar.close()
        if isinstance(sink, MinibatchSink) and sink.skipped:
            notes.append(f"{len(sink.skipped)} batch(es) with fewer than {MIN_BATCH} examples "
                         f"left out of the minibatch estimate ({sum(sink.skipped)} examples)")
        if store is not None:
            arrays = store.commit(sink.arrays)
            sink.arrays = {}
            try:
                values = sink.finish_with(arrays)
            finally:
                if store.one_off:
                    del arrays
                    store.discard()
            return values, n_seen, n_batches
        return sink.finish(), n_seen, n_batches
    except BaseException:
        if store is not None:
            store.discard()
        raise
    finally:
        for taps, _ in taps_list:
            taps.close()


def _chain(first, rest):
    yield first
    yield from rest


def _routes(names_a, names_b, shared_model, shared_layers):
    """Where each hooked layer's output goes: ``{name: [(side, index), ...]}`` per model."""
    if shared_model:
        routes: dict[str, list[tuple[str, int]]] = {}
        for index, name in enumerate(names_a):
            routes.setdefault(name, []).append(("a", index))
        if not shared_layers:
            for index, name in enumerate(names_b):
                routes.setdefault(name, []).append(("b", index))
        return routes
    return ({name: [("a", i)] for i, name in enumerate(names_a)},
            {name: [("b", j)] for j, name in enumerate(names_b)})


def _comparator(chosen, options, plan) -> Callable[[np.ndarray, np.ndarray, str, str], float]:
    if chosen.fn is linear_cka:
        options = {**options, "debiased": plan["debiased"]}

    def compare(x: np.ndarray, y: np.ndarray, name_a: str, name_b: str) -> float:
        try:
            value = float(chosen.fn(x, y, **options))
        except InputError as error:
            raise InputError(f"{chosen.name} of layer {name_a!r} (A) and {name_b!r} (B): "
                             f"{error}") from None
        if not np.isfinite(value):
            raise InputError(f"{chosen.name} of layer {name_a!r} (A) and {name_b!r} (B) is not "
                             "a finite number")
        return value

    return compare


def _store_config(models, names, feed, picks, identity) -> dict | None:
    """What the stored features depend on, or None when it cannot be pinned down."""
    layers_a, layers_b, seed, shuffle = identity
    fingerprints = [data_fingerprint(feed.data)]
    if feed.data_b is not None:
        fingerprints.append(data_fingerprint(feed.data_b))
    if any(f is None for f in fingerprints) or picks[0] or picks[1]:
        return None
    return {
        "model_a": model_fingerprint(models[0]),
        "model_b": model_fingerprint(models[1]),
        "layers_a": names[0],
        "layers_b": names[1],
        "data": fingerprints,
        "order": {"shuffle": shuffle, "seed": seed, "batch_size": feed.batch_size},
    }

