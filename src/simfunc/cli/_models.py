"""What ``simfunc compare`` and ``simfunc map`` share: ``--model SPEC [--state-dict FILE]``.

A model is anything :func:`simfunc.models.load_model_spec` loads: a ``model.pt`` from ``simfunc
train`` (or its directory), a TorchScript file, or ``package.module:factory`` with its weights
in the ``--state-dict`` that follows it.
"""

from __future__ import annotations

import argparse

MODEL_HELP = ("model.pt / training directory, TorchScript file, or package.module:factory "
              "(weights with --state-dict after it)")


class ModelAction(argparse.Action):
    """--model SPEC appends [SPEC, None]; --state-dict PATH fills the last model's slot."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        models = getattr(namespace, "models", None) or []
        if option_string == "--model":
            models.append([values, None])
        else:
            if not models:
                raise argparse.ArgumentError(self, "give --model before its --state-dict")
            if models[-1][1] is not None:
                raise argparse.ArgumentError(self, "one --state-dict per --model")
            models[-1][1] = values
        namespace.models = models


def add_model_arguments(parser: argparse.ArgumentParser, what: str, required: bool) -> None:
    """``--model`` (repeatable) and ``--state-dict``, collected as ``args.models``."""
    parser.add_argument("--model", action=ModelAction, dest="models", metavar="MODEL",
                        required=required, help=f"{MODEL_HELP}; {what}")
    parser.add_argument("--state-dict", action=ModelAction, dest="models", metavar="FILE",
                        help="weights for the --model just before it (a factory model)")
