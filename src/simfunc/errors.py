"""The one exception users see for bad input."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input to a simfunc function.

    Raised before any arithmetic, with a message that names the argument and the problem
    (for example ``X has 3 rows but Y has 4: rows must be the same examples``). It is a
    ``ValueError``, so existing ``except ValueError`` handlers keep working.
    """
