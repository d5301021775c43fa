"""Layer-by-layer similarity maps of any two PyTorch models, in one pass over the data.

    from simfunc import layer_map
    cka = layer_map(model_a, model_b, data, layers_a="all", layers_b="all")

* :func:`layer_map` (:mod:`.engine`) -- the labelled (A layers × B layers) DataFrame;
* :mod:`.selection` -- layers by name, predicate or ``"all"``; layers are recorded by
  :mod:`simfunc.extract.taps` (forward hooks, or a rewritten graph for TorchScript);
  :mod:`.feeds` -- the batches; :mod:`.sinks` -- the
  estimators' side of the pass; :mod:`.featurestore` -- features as memory maps in the cache;
* :mod:`.inputs` -- data named on the command line (models: :mod:`simfunc.models`, the
  one model loader);
* :mod:`.render` -- the heatmap PNG, CSV and HTML page (report level: imported by the CLI,
  never by the modules above).
"""

from __future__ import annotations

from .engine import DEFAULT_MEMORY_LIMIT, ESTIMATORS, layer_map

__all__ = ["layer_map", "ESTIMATORS", "DEFAULT_MEMORY_LIMIT"]
