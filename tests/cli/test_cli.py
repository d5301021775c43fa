"""The ``simfunc`` command: measures, compare (file mode), run/reproduce/report wiring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from simfunc.cli import COMMANDS, build_parser, main

SRC = Path(__file__).resolve().parents[2] / "src"


def test_measures_lists_both_registries(capsys):
    assert main(["measures", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {row["name"]: row for row in rows}
    assert {"linear_cka", "cca", "pwcca", "procrustes", "jsd", "spearman"} <= set(names)
    assert names["procrustes"]["direction"].startswith("distance")
    assert names["pwcca"]["symmetric"] == "no"


def test_compare_files_prints_every_measure(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8))
    np.save(tmp_path / "a.npy", X)
    np.savez(tmp_path / "b.npz", features=X @ rng.normal(size=(8, 8)))
    assert main(["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npz"), "--format", "json"]) == 0
    values = {row["measure"]: row["value"] for row in json.loads(capsys.readouterr().out)}
    assert values["cca"] == pytest.approx(1.0)  # an invertible linear map: CCA sees no change
    assert values["linear_cka"] < 1.0


def test_compare_outputs_mode(tmp_path, capsys):
    logits = np.random.default_rng(1).normal(size=(50, 4))
    np.save(tmp_path / "p.npy", logits)
    assert main(["compare", str(tmp_path / "p.npy"), str(tmp_path / "p.npy"), "--outputs",
                 "--from-logits", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "jsd,0.0" in out and "disagreement,0.0" in out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["compare", "missing.npy", "missing.npy"], "no such file"),
        (["run", "architectures", "--set", "epoch=3"], "unknown setting 'epoch'"),
        (["run", "architectures", "--set", "epochs=3"], "unknown setting 'epochs'"),
        (["run", "architectures", "--set", "training.epochs=many"], "expected an integer"),
        (["run", "architectures", "--set", "training.epoch=3"],
         "unknown setting 'training.epoch'"),
        (["reproduce", "--set", "colour=red"], "no study has such a setting"),
        (["report", "nowhere"], "not a simfunc run directory"),
    ],
)
def test_bad_input_is_one_line_not_a_traceback(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, unknown", [
    (["measures", "--bogus"], "--bogus"),
    (["leaderboard", "--runs", "x"], "--runs"),  # x is the command's RUN_DIR
    (["run", "architectures", "--epochs", "3"], "--epochs 3"),
])
def test_an_unknown_option_is_named_by_its_command_with_its_usage(argv, unknown, capsys):
    """argparse's own report of an unrecognized option comes from the top-level parser
    ("simfunc: error", the top-level usage); the command's usage is what helps."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"simfunc {argv[0]}: error: unrecognized arguments: {unknown}\n" in err
    assert f"usage: simfunc {argv[0]}" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--bogus"], ["--bogus", "measures"]])
def test_an_unknown_option_before_the_command_is_the_top_levels(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "simfunc: error: unrecognized arguments: --bogus" in err
    assert "usage: simfunc [-h]" in err


def test_show_settings_applies_overrides(capsys):
    assert main(["run", "checkpoints", "--set", "training.epochs=4", "--set", "lrs=0.1,0.01",
                 "--show-settings"]) == 0
    out = capsys.readouterr().out
    assert "training.epochs" in out and " 4" in out and "(0.1, 0.01)" in out


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: simfunc {command}" in out and "--help" in out


def _listed(parser):
    """{command: its line in ``simfunc --help``} of a built parser."""
    (commands,) = [action for action in parser._actions if action.dest == "command"]
    return {action.dest: action.help for action in commands._choices_actions}


def test_the_listing_is_what_each_command_declares():
    """main builds only the parser of the command it runs and lists the others from COMMANDS:
    their lines must be the ones their full parsers declare, in the same order."""
    full = _listed(build_parser())
    assert full == {name: line for name, (_, line) in COMMANDS.items()}
    assert list(full) == list(COMMANDS)
    for name in COMMANDS:
        assert _listed(build_parser([name, "--help"])) == full


def test_the_top_level_help_starts_without_the_heavy_libraries():
    """``simfunc --help`` and a mistyped command answer at once: no torch, pandas, matplotlib
    or scipy is imported for them (several seconds on a small machine)."""
    code = textwrap.dedent("""
        import sys
        from simfunc.cli import main
        for argv in (["--help"], ["trian"]):
            try:
                main(argv)
            except SystemExit:
                pass
        heavy = [name for name in ("torch", "pandas", "matplotlib", "scipy") if name in sys.modules]
        print(heavy)
        sys.exit(1 if heavy else 0)
    """)
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(SRC)})
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "invalid choice: 'trian'" in finished.stderr and "leaderboard" in finished.stdout


@pytest.mark.parametrize("command, allowed", [("train", ()), ("leaderboard", ("pandas",))])
def test_a_commands_help_starts_without_torch_or_matplotlib(command, allowed):
    """``simfunc train --help`` lists the architectures and data sets, ``leaderboard --help``
    its defaults: names, which cost no torch (3-5 s on a small machine) or matplotlib."""
    code = textwrap.dedent(f"""
        import sys
        from simfunc.cli import main
        try:
            main([{command!r}, "--help"])
        except SystemExit:
            pass
        heavy = [name for name in ("torch", "pandas", "matplotlib", "scipy", "PIL")
                 if name in sys.modules and name not in {allowed!r}]
        print(heavy, file=sys.stderr)
        sys.exit(1 if heavy else 0)
    """)
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(SRC)})
    assert finished.returncode == 0, finished.stderr
    assert f"usage: simfunc {command}" in finished.stdout
