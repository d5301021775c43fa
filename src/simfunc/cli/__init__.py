"""The ``simfunc`` command: a thin layer over the Python API.

Each subcommand lives in its own module in this package and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a function taking the
parsed arguments and returning an exit status. Adding a command is one module and one line in
``COMMANDS`` (its name, its module and the one line ``simfunc --help`` shows for it).

Building a command's parser imports what its choices list (the architectures, the data sets,
the studies: torch, pandas, matplotlib), several seconds on a small machine. So
:func:`main` builds only the parser of the command it runs; the others are listed by name and
help line. ``simfunc --help`` therefore starts at once, and a command's ``--help`` imports
only what that command needs; :func:`build_parser` without arguments builds every parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from simfunc import __version__
from simfunc.errors import InputError

# name -> (the module that registers it, its line in ``simfunc --help``), in the order the
# help lists them; the line is the one the module's parser declares (tested).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("simfunc.cli.run", "run one study end to end"),
    "reproduce": ("simfunc.cli.run", "run every study and write one report"),
    "report": ("simfunc.cli.run", "rebuild a run's report from its results database"),
    "train": ("simfunc.cli.train", "train a classifier (SGD, checkpoints, resumable)"),
    "measures": ("simfunc.cli.measures", "list every similarity measure with its declared "
                 "properties"),
    "compare": ("simfunc.cli.compare", "compare two feature matrices, or two trained "
                "networks, with every measure"),
    "map": ("simfunc.cli.map", "layer-by-layer similarity map (heatmap, CSV, HTML) of two "
            "PyTorch models"),
    "study": ("simfunc.cli.study", "do your models with similar representations compute "
              "similar functions?"),
    "leaderboard": ("simfunc.cli.leaderboard", "rank every similarity measure by how well it "
                    "tracks function"),
}
COMMAND_MODULES = list(dict.fromkeys(module for module, _ in COMMANDS.values()))


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``simfunc`` parser. With ``argv``, only the parser of the command ``argv`` names is
    built in full (the others are listed by name and help line); without, every parser."""
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
    wanted = None if argv is None else next((a for a in argv if a in COMMANDS), "")
    for module_name in COMMAND_MODULES:
        names = [name for name, (module, _) in COMMANDS.items() if module == module_name]
        if wanted is None or wanted in names:
            importlib.import_module(module_name).register(subparsers)
        else:
            for name in names:
                subparsers.add_parser(name, help=COMMANDS[name][1])
    return parser


def main(argv: list[str] | None = None) -> int:
    from simfunc.runner.run import JobsFailed

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args, unrecognized = parser.parse_known_args(argv)
    if unrecognized:  # named by the parser they were given to, with its usage
        _parser_given(parser, argv, getattr(args, "command", None), unrecognized).error(
            f"unrecognized arguments: {' '.join(unrecognized)}")
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
        print(f"simfunc {args.command}: interrupted; rerun the same command to resume",
              file=sys.stderr)
        return 130


def _parser_given(
    parser: argparse.ArgumentParser, argv: list[str], command: str | None,
    unrecognized: list[str],
) -> argparse.ArgumentParser:
    """The parser the ``unrecognized`` arguments were given to: ``command``'s when they all
    follow its name in ``argv`` (argparse itself reports them as the top level's), else the
    top-level ``parser``."""
    if command is None or command not in argv:
        return parser
    after = argv[argv.index(command) + 1:]
    if not all(argument in after for argument in unrecognized):
        return parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser
