"""simfunc: do networks with similar representations compute similar functions?

Representational similarity (``simfunc.representational``), functional similarity of outputs
(``simfunc.functional``), the statistics that relate them (``simfunc.stats``), and the studies
that run the whole comparison end to end (``simfunc.studies``).
"""

from simfunc.errors import InputError

__version__ = "0.1.0"

__all__ = ["InputError", "__version__"]
