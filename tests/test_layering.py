"""Imports only go down the layers drawn in the README's Development section: a module may
import from its own top-level package and from rows below its own, never from a row above
(nor, within a row, from a neighbour, except the pairs the README names)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "simfunc"

#: The README's picture, top row first.
ROWS = [
    {"__init__"},  # the package's public API re-exports from everywhere
    {"__main__", "cli"},
    {"reproduce", "study"},
    {"leaderboard"},
    {"studies"},
    {"compare", "layermap"},
    {"scorecard", "report", "figures"},
    {"runner", "store", "runs"},
    {"train", "extract", "models"},
    {"nets", "data"},
    {"envs"},
    {"representational", "functional", "stats", "measure", "ranking"},
    {"io", "validation", "settings", "progress", "arrayfile", "errors", "machine"},
]
RANK = {name: len(ROWS) - i for i, row in enumerate(ROWS) for name in row}
#: Neighbours in one row that may import each other (the README says which).
WITHIN_ROW = [{"runner", "runs", "store"},
              {"report", "scorecard"},
              {"models", "train"},
              {"representational", "functional", "stats", "measure", "ranking"},
              {"__main__", "cli"}]


def _allowed(importer: str, imported: str) -> bool:
    if importer == imported or imported == "errors":
        return True
    if RANK[imported] != RANK[importer]:
        return RANK[imported] < RANK[importer]
    return any({importer, imported} <= row for row in WITHIN_ROW)


def wrong_imports(root: Path) -> list[str]:
    """Every ``import simfunc.X`` (at any depth of the code) that goes up or sideways."""
    found = []
    for path in sorted(root.rglob("*.py")):
        importer = path.relative_to(root).parts[0].removesuffix(".py")
        assert importer in RANK, f"{importer} is not in the layer picture: place it there"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] != "simfunc" or len(parts) < 2:
                    continue
                assert parts[1] in RANK, f"{parts[1]} is not in the layer picture: place it there"
                if not _allowed(importer, parts[1]):
                    found.append(f"{path.relative_to(root)}:{node.lineno} {importer} -> {name}")
    return found


def test_imports_only_go_down_the_layers():
    assert wrong_imports(SRC) == []


def test_an_upward_import_is_found(tmp_path):
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "vgg.py").write_text(
        "def build():\n    from simfunc.studies.base import Study  # up: nets -> studies\n")
    (tmp_path / "stats.py").write_text("from simfunc.errors import InputError\n")
    assert wrong_imports(tmp_path) == ["nets/vgg.py:2 nets -> simfunc.studies.base"]
