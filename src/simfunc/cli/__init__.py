"""The ``simfunc`` command: a thin layer over the Python API.

Each subcommand lives in its own module in this package and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a function taking the
parsed arguments and returning an exit status. Adding a command is one module and one line in
``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from simfunc import __version__
from simfunc.errors import InputError
from simfunc.runner.run import JobsFailed

COMMAND_MODULES = [
    # one module per subcommand group, in the order --help lists them
    "simfunc.cli.run",
    "simfunc.cli.train",
    "simfunc.cli.measures",
    "simfunc.cli.compare",
    "simfunc.cli.map",
    "simfunc.cli.study",
    "simfunc.cli.leaderboard",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simfunc",
        description=(
            "Do networks with similar representations compute similar functions? "
            "Measure representational and functional similarity and run the studies "
            "that relate them."
        ),
    )
    parser.add_argument("--version", action="version", version=f"simfunc {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except InputError as error:
        print(f"simfunc {args.command}: error: {error}", file=sys.stderr)
        return 2
    except JobsFailed as error:
        print(f"simfunc {args.command}: some jobs failed\n{error}", file=sys.stderr)
        print("Finished jobs are cached: fix the cause and rerun the same command to continue.",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"simfunc {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
