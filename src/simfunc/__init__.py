"""simfunc: do networks with similar representations compute similar functions?

Representational similarity (``simfunc.representational``), functional similarity of outputs
(``simfunc.functional``), the statistics that relate them (``simfunc.stats``), and the studies
that run the whole comparison end to end (``simfunc.studies``); ``layer_map`` compares every
layer of one PyTorch model with every layer of another (``simfunc.layermap``).
"""

from simfunc.errors import InputError

__version__ = "0.1.0"

__all__ = ["InputError", "__version__", "layer_map"]


def __getattr__(name: str):
    # ``from simfunc import layer_map`` without importing torch on ``import simfunc``
    if name == "layer_map":
        from simfunc.layermap import layer_map

        return layer_map
    raise AttributeError(f"module 'simfunc' has no attribute {name!r}")
