"""Run directories on disk: their file names, and finding them again.

::

    runs/<study>-<profile>/       one study's run (run_dir_name)
      results.sqlite              RESULTS_FILE: the results database
      summary.json                SUMMARY_FILE: the study's headline numbers
      report.html                 REPORT_FILE
      figures/ csv/               FIGURES_DIR, CSV_DIR
    runs/reproduce-<profile>/     several studies' runs, one report (REPRODUCE_FILE lists them)

The study framework writes run directories, the leaderboard and ``simfunc report`` read them;
all of them take the names from here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from simfunc.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from simfunc.store import ResultsDB

__all__ = [
    "RESULTS_FILE",
    "SUMMARY_FILE",
    "REPORT_FILE",
    "REPRODUCE_FILE",
    "FIGURES_DIR",
    "CSV_DIR",
    "run_dir_name",
    "reproduce_dir_name",
    "find_run_dirs",
    "latest_completed_run",
]

RESULTS_FILE = "results.sqlite"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
REPRODUCE_FILE = "reproduce.json"
FIGURES_DIR = "figures"
CSV_DIR = "csv"


def run_dir_name(study: str, profile: str) -> str:
    """The run directory of ``study`` under ``profile``: ``architectures-quick``."""
    return f"{study}-{profile}"


def reproduce_dir_name(profile: str) -> str:
    return f"reproduce-{profile}"


def find_run_dirs(run_dir: str | os.PathLike[str], profile: str | None = None) -> list[Path]:
    """The study run directories under ``run_dir``.

    ``run_dir`` is a ``reproduce`` output folder (its ``reproduce.json`` lists them), a folder
    holding ``<study>-<profile>/results.sqlite`` folders (only ``profile``'s when given; when
    several profiles are present one must be chosen), or one study's run directory.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise InputError(f"run_dir {str(root)!r} is not a directory")
    if (root / REPRODUCE_FILE).is_file():
        index = json.loads((root / REPRODUCE_FILE).read_text())
        return [(root / entry).resolve() for entry in index["studies"]]
    if (root / RESULTS_FILE).is_file():
        return [root]
    found = sorted(p.parent for p in root.glob(f"*/{RESULTS_FILE}"))
    if profile is not None:
        found = [p for p in found if p.name.endswith(f"-{profile}")]
    if not found:
        raise InputError(
            f"{root} holds no {REPRODUCE_FILE}, no {RESULTS_FILE} and no <study>-<profile>/"
            f"{RESULTS_FILE}" + (f" for profile {profile!r}" if profile else "")
        )
    profiles = sorted({p.name.rsplit("-", 1)[-1] for p in found})
    if profile is None and len(profiles) > 1:
        raise InputError(f"{root} holds runs of several profiles ({', '.join(profiles)}): "
                         "choose one (profile=… / --profile)")
    return found


def latest_completed_run(db: ResultsDB) -> pd.Series | None:
    """The ``runs`` row of the latest completed run in ``db`` (settings parsed), or None."""
    runs = db.runs()
    finished = runs[runs["status"] == "completed"] if len(runs) else runs
    if finished.empty:
        return None
    latest = finished.sort_values("started").iloc[-1].copy()
    if isinstance(latest["settings"], str):
        latest["settings"] = json.loads(latest["settings"])
    return latest
